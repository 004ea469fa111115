/**
 * Soak benchmark: what a long-running instance keeps per call once the call is over. A few hundred
 * complete calls of each kind are driven through the project's Twilio emulator against tonewall
 * (the production build, dist/) and a private Redis:
 *
 * - `dial`: an IVR (a date of birth keyed at a <Gather>), then a dial handoff whose agent
 *   answers and hangs up;
 * - `bridge`: an IVR question, then an offered bridge accepted over an agent socket of its own
 *   (one socket per call, closed after it), a mid-call capture of a card number keyed as `dtmf`
 *   events, then the caller hangs up;
 * - `dropin`: a shop's app (test/support/shop-app.ts) redirects its caller to the drop-in capture
 *   route; card, expiry and security code keyed; a processor (the shop's gateway) answers; the call
 *   returns to the shop, which hangs up.
 *
 * Every third call of each kind is abandoned instead: the caller hangs up at the IVR's prompt
 * (dial), four keys into the capture (bridge: the capture fails `call-ended`), or at the expiry's
 * prompt (drop-in: the hang-up watch reports `caller-hung-up` to the shop server to server).
 *
 * tonewall runs in a child process of its own (started with --expose-gc), so that its heap and
 * handles are its own and not the emulator's, which keeps every call it placed. After a warm-up
 * batch (one-time costs: JIT, caches, connections) the child is measured; then the calls; then,
 * every call ended, the service's timers are given time to settle (the child waits until no bridge,
 * capture or hold is left, then SOAK_SETTLE_MS more) and it is measured again. Each measurement
 * runs a full GC first, twice: global.gc, the child being forked with --expose-gc (were it not,
 * the flag is set at run time with v8.setFlagsFromString and gc taken from a new vm context).
 *
 * Reported: heap used, the active handles and timers (process.getActiveResourcesInfo(), by type),
 * and the size of every Map and Set reachable from app.services (walked by property, private
 * TypeScript fields included; `#private` fields and closures are out of its reach) and of the
 * WebSocket server's clients, before and after, and per call; the live objects of a few classes
 * (Bridge, MediaStream, sockets, Timeout, Promise, Map, Set, Function: v8.queryObjects); and the
 * characters the audit trail's guesses of recent trails hold (audit/trail.ts lastWritten, bounded
 * at 2 x 1024 calls), which is most of what the heap gains per call until that bound. A Map or
 * Set that grew is printed by its path. Bounded by time, and out of the walk's reach: the bus's
 * nonces (store/signed-messages.ts, 60 s) and the rescue routes' seen requests
 * (twilio/seen-requests.ts, 210 s), and AbortSignal.timeout's timers of the POSTs to processors
 * and return URLs (unref'd, pending for their timeout): the settle is shorter than those.
 *
 * SOAK_CALLS (default 200 of each kind), SOAK_CONCURRENCY (default 10), SOAK_SETTLE_MS (default
 * 3000), SOAK_KINDS (e.g. `bridge`: only those), SOAK_SNAPSHOTS=<dir> (a heap snapshot at each
 * measurement, for a diff in DevTools), SOAK_ALL=1 (every structure walked, empty ones too).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';
import WebSocket from 'ws';
import { startTwilioEmulator, type EmulatedCall, type TwilioEmulator } from '../tools/emulator';
import { ACCOUNT_SID, AUTH_TOKEN } from '../test/support/harness';
import { ShopApp } from '../test/support/shop-app';
import { DEMO_CARD } from '../tools/cli/demo-values';
import { benchRedis, freePort, fromBuild, productionBuild } from './support';

const JWT_SECRET = 'bench-agent-jwt-secret-0123456789abcdef-xyz';
const CALLS = Number(process.env.SOAK_CALLS ?? 200);
const WARMUP = Math.min(20, CALLS);
const CONCURRENCY = Math.max(1, Number(process.env.SOAK_CONCURRENCY ?? 10));
const SETTLE_MS = Number(process.env.SOAK_SETTLE_MS ?? 3000);

/** the demo's Visa test number (tools/cli/demo-values.ts): the one card number kept outside tests */
const CARD = DEMO_CARD;
const DIAL_NUMBER = '+15005550201';
const BRIDGE_NUMBER = '+15005550202';
const SHOP_NUMBER = '+15005550150';
const CALLER = '+15551230000';

const FLOWS: Record<string, string> = {
  'soak-dial': `id: soak-dial\nnumbers: ["${DIAL_NUMBER}"]\nrecord: true\nsteps:\n  - collect: dob\n    kind: date\n    prompt: "Key in your date of birth."\nhandoff:\n  mode: dial\n  to: "client:alice"\n`,
  'soak-bridge': `id: soak-bridge\nnumbers: ["${BRIDGE_NUMBER}"]\nrecord: true\nsteps:\n  - collect: account\n    kind: digits\n    sensitive: false\n    minLength: 4\n    maxLength: 8\n    prompt: "Key in your account number, then hash."\nhandoff:\n  mode: bridge\n`,
  'card-capture': `id: card-capture\nnumbers: ["+15005550151"]\nsteps:\n  - collect: card\n    kind: card-number\n    prompt: "Key in your card number, then hash."\n  - collect: expiry\n    kind: expiry\n    prompt: "Key in the expiry date."\n  - collect: cvv\n    kind: security-code\n    prompt: "Key in the security code, then hash."\n`,
};

// ------------------------------------------------------------------ the service (child process)

interface Measurement {
  heapUsed: number;
  rss: number;
  /** memory outside the JS heap: Buffers, ArrayBuffers (the DSP's WebAssembly memory among them) */
  external: number;
  resources: Record<string, number>;
  structures: Record<string, number>;
  /** characters held by the audit trail's guesses of each recent call's trail (audit/trail.ts lastWritten: RecentValues, bounded by design) */
  auditGuessChars: number;
  /** live objects of some classes (v8.queryObjects, after the GC) */
  objects: Record<string, number>;
}

type ToChild = { op: 'token'; id: number; sub: string } | { op: 'measure'; id: number; settle: boolean } | { op: 'stop'; id: number };

/**
 * Every Map and Set reachable from `root` by property, by the path it was first found at, with its
 * size; Map and Set values are walked too (an entry may hold structures of its own). Functions,
 * Buffers and typed arrays are not walked into.
 */
function structures(roots: Record<string, unknown>, maxDepth = 7): Record<string, number> {
  const out: Record<string, number> = {};
  const seen = new Set<unknown>();
  const walk = (v: unknown, where: string, depth: number) => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > maxDepth) return;
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof WeakMap || v instanceof WeakSet || v instanceof Promise) return;
    seen.add(v);
    if (v instanceof Map || v instanceof Set) {
      out[where] = v.size;
      let i = 0;
      for (const e of v instanceof Map ? v.values() : v.values()) if (i++ < 4) walk(e, `${where}[]`, depth + 1);
      return;
    }
    if (Array.isArray(v)) {
      if (v.length > 64) out[where] = v.length;
      for (let i = 0; i < Math.min(v.length, 4); i++) walk(v[i], `${where}[]`, depth + 1);
      return;
    }
    for (const k of Object.keys(v)) {
      let child: unknown;
      try {
        child = (v as Record<string, unknown>)[k];
      } catch {
        continue;
      }
      walk(child, `${where}.${k}`, depth + 1);
    }
  };
  for (const [name, root] of Object.entries(roots)) walk(root, name, 0);
  return out;
}

async function serve(): Promise<void> {
  const cfg = JSON.parse(process.env.SOAK_SERVICE!) as {
    port: number;
    publicUrl: string;
    emulatorUrl: string;
    redisUrl: string;
    flowsDir: string;
    env: Record<string, string>;
  };
  const { buildApp } = fromBuild<typeof import('../src/app')>('src/app');
  const { loadConfig } = fromBuild<typeof import('../src/config')>('src/config');
  const { generateKeyRingText } = fromBuild<typeof import('../src/vault')>('src/vault');
  const config = loadConfig({
    PORT: String(cfg.port),
    HOST: '127.0.0.1',
    PUBLIC_URL: cfg.publicUrl,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: cfg.emulatorUrl,
    REDIS_URL: cfg.redisUrl,
    VAULT_KEYS: generateKeyRingText('k1'),
    AGENT_JWT_SECRET: JWT_SECRET,
    SUBJECT_KEY: 'bench-subject-key-0123456789abcdef-0123456789',
    AUDIT_KEY: 'bench-audit-key-0123456789abcdef-0123456789ab',
    METRICS_PORT: '0',
    RATE_LIMIT_MAX: '1000000',
    FLOWS_DIR: cfg.flowsDir,
    LOG_LEVEL: 'warn',
    ...cfg.env,
  });
  const app = await buildApp(config, { dropinPollMs: 200 });
  await app.listen({ port: cfg.port, host: '127.0.0.1' });
  const s = app.services;
  const classes: Record<string, new (...args: never[]) => unknown> = {
    Bridge: fromBuild<typeof import('../src/media/bridge')>('src/media/bridge').Bridge,
    MediaStream: fromBuild<typeof import('../src/media/stream')>('src/media/stream').MediaStream,
    WebSocket,
    'net.Socket': net.Socket,
    Timeout: setTimeout(() => undefined, 0).constructor as new () => unknown,
    Promise,
    Map,
    Set,
    Function,
  };
  const gc = global.gc ?? (v8.setFlagsFromString('--expose-gc'), runInNewContext('gc') as () => void);
  const busy = () => {
    const live = structures({ services: s });
    return Object.entries(live).some(
      ([k, n]) => n > 0 && /\.(bridges\.bridges|running|timeouts|rechecks|timers|inflight|waiters|pending|saving|resuming|queues)$/.test(k),
    );
  };
  const measure = async (settle: boolean): Promise<Measurement> => {
    if (settle) {
      for (let i = 0; i < 200 && busy(); i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, SETTLE_MS));
    }
    for (let i = 0; i < 2; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    if (process.env.SOAK_SNAPSHOTS) v8.writeHeapSnapshot(path.join(process.env.SOAK_SNAPSHOTS, `soak-${Date.now()}.heapsnapshot`));
    const resources: Record<string, number> = {};
    for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
    const wss = (app as unknown as { websocketServer?: { clients: Set<unknown> } }).websocketServer;
    const guesses = (s.audit as unknown as { lastWritten: { current: Map<string, string | null>; previous: Map<string, string | null> } }).lastWritten;
    let auditGuessChars = 0;
    for (const m of [guesses.current, guesses.previous]) for (const [k, v] of m) auditGuessChars += k.length + (v?.length ?? 0);
    const objects: Record<string, number> = {};
    for (const [name, ctor] of Object.entries(classes)) objects[name] = v8.queryObjects(ctor, { format: 'count' }) as number;
    return {
      objects,
      auditGuessChars,
      heapUsed: process.memoryUsage().heapUsed,
      rss: process.memoryUsage().rss,
      external: process.memoryUsage().external,
      resources,
      structures: { ...structures({ services: s }), 'websocketServer.clients': wss?.clients.size ?? 0 },
    };
  };
  process.on('message', (m: ToChild) => {
    void (async () => {
      if (m.op === 'token') process.send!({ id: m.id, token: s.auth.sign({ sub: m.sub, endpoint: `client:${m.sub}`, role: 'agent' }) });
      else if (m.op === 'measure') process.send!({ id: m.id, measurement: await measure(m.settle) });
      else {
        await app.close();
        process.send!({ id: m.id });
        process.exit(0);
      }
    })().catch((err: unknown) => process.send!({ id: m.id, error: err instanceof Error ? err.stack : String(err) }));
  });
  process.send!({ ready: true });
}

// ------------------------------------------------------------------ the driver (this process)

class Service {
  private next = 0;
  private readonly waiting = new Map<number, (m: Record<string, unknown>) => void>();
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: Record<string, unknown>) => {
      const w = this.waiting.get(m.id as number);
      if (w) {
        this.waiting.delete(m.id as number);
        w(m);
      }
    });
  }
  async ask<T>(msg: Record<string, unknown>): Promise<T> {
    const id = ++this.next;
    const answer = new Promise<Record<string, unknown>>((resolve) => this.waiting.set(id, resolve));
    this.child.send({ ...msg, id });
    const m = await answer;
    if (m.error) throw new Error(`the soak service failed: ${String(m.error)}`);
    return m as T;
  }
  measure(settle: boolean): Promise<Measurement> {
    return this.ask<{ measurement: Measurement }>({ op: 'measure', settle }).then((m) => m.measurement);
  }
  token(sub: string): Promise<string> {
    return this.ask<{ token: string }>({ op: 'token', sub }).then((m) => m.token);
  }
}

/** an agent socket: every event it is sent, and a wait for the first that matches */
class AgentSocket {
  private readonly events: { type: string; callSid?: string | null; [k: string]: unknown }[] = [];
  private readonly waits: { pred: (e: AgentSocket['events'][number]) => boolean; resolve: (e: AgentSocket['events'][number]) => void }[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const e = JSON.parse(data.toString()) as AgentSocket['events'][number];
      this.events.push(e);
      for (const w of [...this.waits])
        if (w.pred(e)) {
          this.waits.splice(this.waits.indexOf(w), 1);
          w.resolve(e);
        }
    });
  }
  static async open(url: string, token: string): Promise<AgentSocket> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const s = new AgentSocket(ws);
    s.send({ type: 'auth', token });
    // a probe answered `malformed message` once the auth is processed
    s.send({ type: 'probe' });
    await s.next((e) => e.type === 'error', 'auth processed');
    return s;
  }
  send(m: unknown): void {
    this.ws.send(JSON.stringify(m));
  }
  next(pred: (e: AgentSocket['events'][number]) => boolean, what: string, timeoutMs = 20_000): Promise<AgentSocket['events'][number]> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: AgentSocket['events'][number]) => (clearTimeout(t), resolve(e)) };
      const t = setTimeout(() => {
        this.waits.splice(this.waits.indexOf(w), 1);
        reject(new Error(`soak: timed out waiting for ${what}`));
      }, timeoutMs);
      this.waits.push(w);
    });
  }
  async close(): Promise<void> {
    const closed = new Promise((r) => this.ws.once('close', r));
    this.ws.close();
    await closed;
  }
}

async function until<T>(fn: () => T | undefined | null | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`soak: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Rig {
  emulator: TwilioEmulator;
  service: Service;
  shop: ShopApp;
  voiceUrl: string;
  statusUrl: string;
  wsUrl: string;
}

/** every third call of a kind ends abnormally: the caller hangs up part way (the paths a hang-up takes, not only the happy one) */
const abandons = (i: number) => i % 3 === 2;

async function dialCall(r: Rig, i: number): Promise<void> {
  let call: EmulatedCall | undefined = undefined;
  call = await r.emulator.placeCall({
    from: CALLER,
    to: DIAL_NUMBER,
    voiceUrl: r.voiceUrl,
    statusCallback: r.statusUrl,
    onGather: () => {
      if (!abandons(i)) return '14021985';
      // hangs up at the date of birth's prompt
      void call!.hangup();
      return null;
    },
  });
  await call.ended;
  if (!abandons(i) && !call.transcript.some((t) => t.verb === 'Dial')) throw new Error('soak: a dial call never reached its <Dial>');
}

let agents = 0;
async function bridgeCall(r: Rig, i: number): Promise<void> {
  const sub = `soak${++agents}`;
  const sock = await AgentSocket.open(r.wsUrl, await r.service.token(sub));
  try {
    const call = await r.emulator.placeCall({ from: CALLER, to: BRIDGE_NUMBER, voiceUrl: r.voiceUrl, statusCallback: r.statusUrl, onGather: () => '123456#' });
    const caller = await call.legReady;
    await sock.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'the offer');
    sock.send({ type: 'handoff.accept', callSid: call.sid });
    await sock.next((e) => e.type === 'call.bridged' && e.callSid === call.sid, 'the bridge');
    const agentCall = await until(() => [...r.emulator.calls.values()].find((c) => c.to === `client:${sub}`), 'the agent call');
    await agentCall.legReady;
    sock.send({ type: 'capture.start', callSid: call.sid, name: 'card', kind: 'card-number' });
    await sock.next((e) => e.type === 'capture.started' && e.callSid === call.sid, 'the capture start');
    // an abandoning caller hangs up after four keys, the capture running
    for (const k of abandons(i) ? CARD.slice(0, 4) : CARD + '#') {
      caller.sendDtmf(k);
      await new Promise((res) => setTimeout(res, 20));
    }
    if (abandons(i)) await call.hangup();
    const ended = await sock.next((e) => (e.type === 'capture.completed' || e.type === 'capture.failed') && e.callSid === call.sid, 'the capture end');
    if (ended.type !== (abandons(i) ? 'capture.failed' : 'capture.completed')) throw new Error(`soak: a capture ended ${JSON.stringify(ended)}`);
    await call.hangup();
    await call.ended;
    await agentCall.ended;
    await sock.next((e) => e.type === 'call.ended' && e.callSid === call.sid, 'the call end');
  } finally {
    await sock.close();
  }
}

async function dropinCall(r: Rig, i: number): Promise<void> {
  let n = 0;
  const answers = [`${CARD}#`, expiry(), '737#'];
  let call: EmulatedCall | undefined = undefined;
  call = await r.emulator.placeCall({
    from: CALLER,
    to: SHOP_NUMBER,
    voiceUrl: `${r.shop.url}/voice`,
    onGather: () => {
      // an abandoning caller keys the card, then hangs up at the expiry's prompt: the result goes to the shop server to server
      if (abandons(i) && n === 1) {
        void call!.hangup();
        return null;
      }
      return answers[n++] ?? null;
    },
  });
  await call.ended;
  if (n < (abandons(i) ? 1 : 3))
    throw new Error(
      `soak: a drop-in call answered ${n} gathers: ${JSON.stringify(call.transcript)} ${JSON.stringify(r.emulator.timelineFor(call.sid).slice(0, 6))}`,
    );
}

function expiry(): string {
  const d = new Date();
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}${String((d.getUTCFullYear() + 2) % 100).padStart(2, '0')}`;
}

async function batch(r: Rig, n: number, one: (r: Rig, i: number) => Promise<void>): Promise<number> {
  const t0 = Date.now();
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, n) }, async () => {
      while (i < n) await one(r, i++);
    }),
  );
  return Date.now() - t0;
}

function diff(before: Record<string, number>, after: Record<string, number>): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) if ((before[k] ?? 0) !== (after[k] ?? 0)) out[k] = [before[k] ?? 0, after[k] ?? 0];
  return out;
}

export async function runSoakBench(): Promise<Record<string, number | string>> {
  productionBuild();
  const redis = await benchRedis();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-soak-'));
  const flowsDir = path.join(work, 'flows');
  fs.mkdirSync(flowsDir);
  for (const [name, yaml] of Object.entries(FLOWS)) fs.writeFileSync(path.join(flowsDir, `${name}.yaml`), yaml);
  const port = await freePort();
  const shopPort = await freePort();
  const shopUrl = `http://127.0.0.1:${shopPort}`;
  const publicUrl = `https://i${port}.tonewall.test`;
  const processorsFile = path.join(work, 'processors.yaml');
  fs.writeFileSync(
    processorsFile,
    `processors:\n  - name: gateway\n    url: ${shopUrl}/charge\n    secretEnv: GATEWAY_SECRET\n    fields: [card, expiry, cvv]\n`,
  );
  const emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, origins: { [publicUrl]: `http://127.0.0.1:${port}` } });
  let child: ChildProcess | undefined;
  let shop: ShopApp | undefined;
  try {
    child = fork(__filename, ['--soak-server'], {
      // v8.queryObjects is experimental in Node 20: its warning is not this benchmark's output
      execArgv: [...process.execArgv, '--expose-gc', '--disable-warning=ExperimentalWarning'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        SOAK_SERVICE: JSON.stringify({
          port,
          publicUrl,
          emulatorUrl: emulator.baseUrl,
          redisUrl: redis.url,
          flowsDir,
          env: {
            PROCESSORS_FILE: processorsFile,
            GATEWAY_SECRET: 'gateway-secret-0123456789abcdefghij',
            CAPTURE_RETURN_URLS: `${shopUrl}/paid`,
            CAPTURE_RESULT_SECRET: 'capture-result-secret-0123456789abcdef',
          },
        }),
      },
    });
    const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`the soak service exited (${code})`))));
    exited.catch(() => undefined);
    await Promise.race([new Promise((r) => child!.once('message', r)), exited]);
    const service = new Service(child);
    shop = new ShopApp(publicUrl, emulator.baseUrl, shopPort, CARD);
    await shop.start();
    const rig: Rig = {
      emulator,
      service,
      shop,
      voiceUrl: `${publicUrl}/twilio/voice`,
      statusUrl: `${publicUrl}/twilio/status`,
      wsUrl: `ws://127.0.0.1:${port}/agent/ws`,
    };
    const kinds = (
      [
        ['dial', dialCall],
        ['bridge', bridgeCall],
        ['dropin', dropinCall],
      ] as const
    ).filter(([name]) => !process.env.SOAK_KINDS || process.env.SOAK_KINDS.split(',').includes(name));
    for (const [, one] of kinds) await Promise.race([batch(rig, WARMUP, one), exited]);
    const before = await service.measure(true);
    const times: Record<string, number> = {};
    const kb = (n: number) => (n / 1024).toFixed(1);
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const perCall = (a: Record<string, number>, b: Record<string, number>, n: number) =>
      JSON.stringify(Object.fromEntries(Object.entries(diff(a, b)).map(([k, [x, y]]) => [k, Number(((y - x) / n).toFixed(3))])));
    let last = before;
    for (const [name, one] of kinds) {
      times[name] = await Promise.race([batch(rig, CALLS, one), exited]);
      const m = await service.measure(true);
      out(
        `soak: ${name}: ${CALLS} calls in ${times[name]} ms; per call: heap ${((m.heapUsed - last.heapUsed) / CALLS).toFixed(0)} B, external ${((m.external - last.external) / CALLS).toFixed(0)} B (audit guesses ${((m.auditGuessChars - last.auditGuessChars) / CALLS).toFixed(0)} chars), objects ${perCall(last.objects, m.objects, CALLS)}, resources ${perCall(last.resources, m.resources, CALLS)}, structures ${perCall(last.structures, m.structures, CALLS)}`,
      );
      last = m;
    }
    const after = last;
    const calls = CALLS * kinds.length;

    out(
      `soak: ${WARMUP} calls of each kind to warm up, then ${CALLS} each (dial ${times.dial} ms, bridge ${times.bridge} ms, dropin ${times.dropin} ms), ${CONCURRENCY} at once`,
    );
    out(`soak: heap used ${kb(before.heapUsed)} KB -> ${kb(after.heapUsed)} KB (${((after.heapUsed - before.heapUsed) / calls).toFixed(0)} B per call)`);
    const guessGrowth = after.auditGuessChars - before.auditGuessChars;
    out(
      `soak: of which the audit trail's guesses of recent trails (RecentValues, at most 2 x 1024 calls) ${kb(before.auditGuessChars)} K chars -> ${kb(after.auditGuessChars)} K chars (${(guessGrowth / calls).toFixed(0)} per call); the rest ${((after.heapUsed - before.heapUsed - guessGrowth) / calls).toFixed(0)} B per call`,
    );
    out(`soak: live objects before ${JSON.stringify(before.objects)}`);
    out(`soak: live objects after  ${JSON.stringify(after.objects)}`);
    out(
      `soak: live objects per call ${JSON.stringify(Object.fromEntries(Object.keys(after.objects).map((k) => [k, Number(((after.objects[k] - (before.objects[k] ?? 0)) / calls).toFixed(3))])))}`,
    );
    out(`soak: external ${kb(before.external)} KB -> ${kb(after.external)} KB; rss ${kb(before.rss)} KB -> ${kb(after.rss)} KB`);
    out(`soak: active resources before ${JSON.stringify(before.resources)}`);
    out(`soak: active resources after  ${JSON.stringify(after.resources)}`);
    const grown = diff(before.structures, after.structures);
    out(`soak: ${Object.keys(before.structures).length} Maps and Sets reachable from app.services; those that changed (before -> after, per call):`);
    for (const [k, [b, a]] of Object.entries(grown)) out(`  ${k}: ${b} -> ${a} (${((a - b) / calls).toFixed(3)})`);
    const nonEmpty = Object.entries(after.structures).filter(([, n]) => n > 0 || Boolean(process.env.SOAK_ALL));
    out(`soak: non-empty after: ${nonEmpty.map(([k, n]) => `${k}=${n}`).join(', ')}`);
    const total = (m: Measurement) => Object.values(m.resources).reduce((a, b) => a + b, 0);
    const timers = (m: Measurement) => m.resources.Timeout ?? 0;
    const result: Record<string, number | string> = {
      calls,
      heap_before_kb: Number(kb(before.heapUsed)),
      heap_after_kb: Number(kb(after.heapUsed)),
      heap_bytes_per_call: Math.round((after.heapUsed - before.heapUsed) / calls),
      audit_guess_chars_per_call: Math.round((after.auditGuessChars - before.auditGuessChars) / calls),
      handles_before: total(before),
      handles_after: total(after),
      timers_before: timers(before),
      timers_after: timers(after),
      structures_grown:
        Object.keys(grown)
          .filter((k) => grown[k][1] > grown[k][0])
          .join(' ') || 'none',
    };
    await service.ask({ op: 'stop' });
    return result;
  } finally {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    await shop?.app.close();
    await emulator.close();
    await redis.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--soak-server') void serve();
