/**
 * Relay benchmark: N concurrent bridged calls driven at real-time pace (a 20 ms frame each way per
 * call), against tonewall's media bridge (zod-parsed messages, DSP on the caller→agent path) and,
 * in the same run, against a bare WebSocket relay (JSON parse, base64 decode/encode, JSON
 * stringify, no DSP). Each server runs in its own child process so that its CPU time is its own;
 * this process plays Twilio (both legs of every call) and times every frame.
 *
 * Reported: server CPU µs per relayed frame (and its user/system split), p50/p99 added latency
 * (caller→agent: transport + MASK_LOOKAHEAD_MS), late frames (a frame that took longer than one
 * frame period, 20 ms, to cross), memory per bridged call, and the driver's own load (event-loop
 * utilisation, how late its send ticks ran) and the servers' involuntary context switches, so that
 * a run disturbed by the driver or by other work on the machine shows as such.
 *
 * RELAY_BENCH_REPEAT=n runs bare and tonewall alternately n times per call count and reports the
 * median of each: on a shared machine a single pair of runs can differ by 30% from load alone.
 * RELAY_PROF=<dir> writes a V8 CPU profile of each server's measured window to <dir>/<kind>/.
 * tonewall runs as built for production (dist/, rebuilt first: support.ts productionBuild).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import twilio from 'twilio';
import WebSocket, { WebSocketServer } from 'ws';
import { fromBuild, productionBuild } from './support';

const ACCOUNT_SID = 'AC' + '0123456789abcdef'.repeat(2);
const AUTH_TOKEN = 'bench-auth-token-0123456789abcdef';
const FRAME_MS = 20;
const LOOKAHEAD_MS = 40;
const MEASURE_MS = Number(process.env.RELAY_BENCH_MS ?? 8000);
const WARMUP_MS = 1500;
const CALL_COUNTS = (process.env.RELAY_BENCH_CALLS ?? '50,200').split(',').map(Number);
/** calls are spread over this many start offsets inside the 20 ms period, as real streams are */
const PHASES = 5;
const REPEAT = Math.max(1, Number(process.env.RELAY_BENCH_REPEAT ?? 1));

type Kind = 'tonewall' | 'bare';

// ------------------------------------------------------------------ server side (child process)

async function serve(kind: Kind): Promise<void> {
  const send = (m: unknown) => process.send!(m);
  let port: number;
  let issue: (n: number) => Promise<{ caller: string; agent: string }[]>;
  let bridged: () => number = () => 0;
  if (kind === 'tonewall') {
    const { buildApp } = fromBuild<typeof import('../src/app')>('src/app');
    const { loadConfig } = fromBuild<typeof import('../src/config')>('src/config');
    const { generateKeyRingText } = fromBuild<typeof import('../src/vault')>('src/vault');
    const path = await import('node:path');
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      PUBLIC_URL: 'http://127.0.0.1:1',
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
      VAULT_KEYS: generateKeyRingText('k1'),
      AGENT_JWT_SECRET: 'bench-agent-jwt-secret-0123456789abcdef-xyz',
      FLOWS_DIR: path.join(__dirname, '../config/flows'),
      PROCESSORS_FILE: path.join(__dirname, 'no-such-processors.yaml'),
      MASK_LOOKAHEAD_MS: String(LOOKAHEAD_MS),
      LOG_LEVEL: 'warn',
    });
    const app = await buildApp(config);
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
    const s = app.services;
    // the stream URLs must be signed for the origin the service checks against
    (s.tokens as unknown as { mediaPublicUrl: string }).mediaPublicUrl = `http://127.0.0.1:${port}`;
    let seq = 0;
    issue = async (n) => {
      const out: { caller: string; agent: string }[] = [];
      for (let i = 0; i < n; i++) {
        const callSid = `CA${String(++seq).padStart(32, '0')}`;
        const now = Date.now();
        await s.calls.create({
          callSid,
          accountSid: ACCOUNT_SID,
          flowId: 'bench',
          to: '+15005550006',
          fromMasked: '+*******0000',
          subject: 'x',
          state: 'offered',
          step: 0,
          attempt: 0,
          recording: { status: 'none' },
          fields: {},
          handoff: { mode: 'bridge' },
          instanceId: config.instanceId,
          createdAt: now,
          updatedAt: now,
        });
        const caller = await s.tokens.issue({ callSid, leg: 'caller', instanceId: config.instanceId });
        const agent = await s.tokens.issue({ callSid, leg: 'agent', instanceId: config.instanceId, bridgeCallSid: callSid });
        out.push({ caller: caller.url, agent: agent.url });
      }
      return out;
    };
    bridged = () => {
      let n = 0;
      for (const sid of [...Array(seq).keys()].map((i) => `CA${String(i + 1).padStart(32, '0')}`)) if (s.bridges.get(sid)?.state === 'bridged') n++;
      return n;
    };
  } else {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 4 * 1024 * 1024 });
    await once(wss, 'listening');
    port = (wss.address() as { port: number }).port;
    const pairs = new Map<string, { caller?: WebSocket; agent?: WebSocket; callerSid?: string; agentSid?: string }>();
    wss.on('connection', (ws, req) => {
      const [, , id, leg] = (req.url ?? '').split('/');
      const pair = pairs.get(id) ?? {};
      pairs.set(id, pair);
      const me = leg === 'caller' ? 'caller' : 'agent';
      pair[me] = ws;
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString());
        if (msg.event === 'start') {
          if (me === 'caller') pair.callerSid = msg.streamSid;
          else pair.agentSid = msg.streamSid;
          return;
        }
        if (msg.event !== 'media') return;
        const frame = Buffer.from(msg.media.payload, 'base64');
        const other = me === 'caller' ? pair.agent : pair.caller;
        const sid = me === 'caller' ? pair.agentSid : pair.callerSid;
        if (other && sid) other.send(JSON.stringify({ event: 'media', streamSid: sid, media: { payload: frame.toString('base64') } }));
      });
    });
    let seq = 0;
    issue = async (n) => {
      const out: { caller: string; agent: string }[] = [];
      for (let i = 0; i < n; i++) {
        const id = String(++seq);
        out.push({ caller: `ws://127.0.0.1:${port}/media/${id}/caller`, agent: `ws://127.0.0.1:${port}/media/${id}/agent` });
      }
      return out;
    };
    bridged = () => [...pairs.values()].filter((p) => p.callerSid && p.agentSid).length;
  }
  let cpu0 = process.cpuUsage();
  let ivcs0 = 0;
  const profiler = process.env.RELAY_PROF ? await measuredWindowProfiler(`${process.env.RELAY_PROF}/${kind}`) : null;
  process.on('message', async (m: { cmd: string; n?: number }) => {
    if (m.cmd === 'issue') send({ cmd: 'issued', urls: await issue(m.n!) });
    else if (m.cmd === 'bridged') send({ cmd: 'bridged', n: bridged() });
    else if (m.cmd === 'mem') {
      global.gc?.();
      const u = process.memoryUsage();
      send({ cmd: 'mem', bytes: u.heapUsed + u.external + u.arrayBuffers });
    } else if (m.cmd === 'cpu-start') {
      await profiler?.start();
      cpu0 = process.cpuUsage();
      ivcs0 = process.resourceUsage().involuntaryContextSwitches;
      send({ cmd: 'cpu-started' });
    } else if (m.cmd === 'cpu-stop') {
      const d = process.cpuUsage(cpu0);
      await profiler?.stop();
      const r = process.resourceUsage();
      send({ cmd: 'cpu', us: d.user + d.system, user: d.user, sys: d.system, ivcs: r.involuntaryContextSwitches - ivcs0 });
    } else if (m.cmd === 'exit') process.exit(0);
  });
  send({ cmd: 'ready', port });
}

/** A V8 CPU profile of the measured window only (RELAY_PROF), written as <dir>/<n>.cpuprofile */
async function measuredWindowProfiler(dir: string): Promise<{ start(): Promise<void>; stop(): Promise<void> }> {
  const { Session } = await import('node:inspector/promises');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  let n = 0;
  return {
    start: async () => {
      await session.post('Profiler.start');
    },
    stop: async () => {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(`${dir}/${++n}.cpuprofile`, JSON.stringify(profile));
    },
  };
}

// ------------------------------------------------------------------ driver side (this process)

function request<T>(child: ChildProcess, msg: object, reply: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (m: { cmd: string }) => {
      if (m.cmd !== reply) return;
      child.off('message', on);
      child.off('exit', gone);
      resolve(m as T);
    };
    const gone = (code: number | null) => reject(new Error(`relay server exited (${code}) before answering ${reply}`));
    child.on('message', on);
    child.once('exit', gone);
    if (child.connected) child.send(msg);
    else gone(child.exitCode);
  });
}

interface Leg {
  leg: 'caller' | 'agent';
  ws: WebSocket;
  streamSid: string;
  seq: number;
  /** send times of frames whose relayed copy has not arrived yet */
  inflight: number[];
}

const FRAME_PAYLOAD = Buffer.alloc(160, 0xff);
// a speech-like, non-tone payload: what the relay carries most of the time
for (let i = 0; i < 160; i++) FRAME_PAYLOAD[i] = (0x80 + Math.round(20 * Math.sin(i / 7)) + (i % 13)) & 0xff;
const PAYLOAD_B64 = FRAME_PAYLOAD.toString('base64');

async function openLeg(url: string, kind: Kind, callSid: string, leg: 'caller' | 'agent'): Promise<Leg> {
  const headers = kind === 'tonewall' ? { 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, {}) } : undefined;
  const ws = new WebSocket(url, { headers });
  await once(ws, 'open');
  const streamSid = `MZ${callSid.slice(2)}${leg === 'caller' ? 'c' : 'a'}`;
  const l: Leg = { leg, ws, streamSid, seq: 0, inflight: [] };
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  ws.send(
    JSON.stringify({
      event: 'start',
      sequenceNumber: String(++l.seq),
      streamSid,
      start: {
        accountSid: ACCOUNT_SID,
        streamSid,
        callSid,
        tracks: ['inbound'],
        customParameters: { leg },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    }),
  );
  return l;
}

function sendFrame(l: Leg, chunk: number): void {
  l.ws.send(
    `{"event":"media","sequenceNumber":"${++l.seq}","media":{"track":"inbound","chunk":"${chunk}","timestamp":"${chunk * FRAME_MS}","payload":"${PAYLOAD_B64}"},"streamSid":"${l.streamSid}"}`,
  );
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface RunResult {
  cpuUsPerFrame: number;
  userUsPerFrame: number;
  sysUsPerFrame: number;
  /** the server was preempted this many times while measured: other work wanted its core */
  serverPreempted: number;
  /** share of the measured time the driver's event loop was busy */
  driverElu: number;
  /** the latest a driver send tick ran after its due time, ms */
  driverMaxLagMs: number;
  p50: number;
  p99: number;
  transportP99: number;
  late: number;
  frames: number;
  memPerCallKB: number;
}

async function runOne(kind: Kind, calls: number): Promise<RunResult> {
  const child = fork(__filename, ['--relay-server', kind], { execArgv: [...process.execArgv, '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  const mem0 = (await request<{ bytes: number }>(child, { cmd: 'mem' }, 'mem')).bytes;
  const { urls } = await request<{ urls: { caller: string; agent: string }[] }>(child, { cmd: 'issue', n: calls }, 'issued');
  const pairs: { caller: Leg; agent: Leg }[] = [];
  for (let i = 0; i < urls.length; i++) {
    const callSid = `CA${String(i + 1).padStart(32, '0')}`;
    const caller = await openLeg(urls[i].caller, kind, callSid, 'caller');
    // the bridge exists once the caller's `start` is handled; the agent joins it
    await new Promise((r) => setTimeout(r, 2));
    const agent = await openLeg(urls[i].agent, kind, callSid, 'agent');
    pairs.push({ caller, agent });
  }
  for (let tries = 0; ; tries++) {
    const { n } = await request<{ n: number }>(child, { cmd: 'bridged' }, 'bridged');
    if (n === calls) break;
    if (tries > 200) throw new Error(`${kind}: only ${n} of ${calls} calls bridged`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const mem1 = (await request<{ bytes: number }>(child, { cmd: 'mem' }, 'mem')).bytes;

  const cap = calls * 2 * Math.ceil((MEASURE_MS + WARMUP_MS) / FRAME_MS) + 1024;
  /** every relayed frame's crossing time, both directions */
  const transport = new Float64Array(cap);
  /** caller → agent: crossing + the look-ahead delay = the added latency the agent hears */
  const c2a = new Float64Array(cap);
  let nLat = 0;
  let nC2a = 0;
  let measuring = false;
  let relayed = 0;
  for (const { caller, agent } of pairs) {
    // caller → agent carries the look-ahead delay on top of transport; agent → caller only transport
    const onMessage = (to: Leg, from: Leg, extraMs: number) => (data: WebSocket.RawData) => {
      const text = data.toString();
      if (!text.startsWith('{"event":"media"')) return;
      const sent = from.inflight.shift();
      if (sent === undefined || !measuring) return;
      relayed++;
      const t = performance.now() - sent;
      transport[nLat++] = t;
      if (to.leg === 'agent') c2a[nC2a++] = t + extraMs;
    };
    agent.ws.on('message', onMessage(agent, caller, kind === 'tonewall' ? LOOKAHEAD_MS : 0));
    caller.ws.on('message', onMessage(caller, agent, 0));
  }

  const t0 = performance.now();
  let chunk = 0;
  let stop = false;
  let maxLag = 0;
  const groups = Array.from({ length: PHASES }, (_, g) => pairs.filter((_, i) => i % PHASES === g));
  const loops = groups.map(async (group, g) => {
    for (let k = 0; !stop; k++) {
      const due = t0 + k * FRAME_MS + (g * FRAME_MS) / PHASES;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const now = performance.now();
      if (measuring && now - due > maxLag) maxLag = now - due;
      for (const { caller, agent } of group) {
        caller.inflight.push(now);
        agent.inflight.push(now);
        sendFrame(caller, ++chunk);
        sendFrame(agent, chunk);
      }
    }
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  await request(child, { cmd: 'cpu-start' }, 'cpu-started');
  measuring = true;
  const elu0 = performance.eventLoopUtilization();
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  measuring = false;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const { us, user, sys, ivcs } = await request<{ us: number; user: number; sys: number; ivcs: number }>(child, { cmd: 'cpu-stop' }, 'cpu');
  stop = true;
  await Promise.all(loops);
  for (const { caller, agent } of pairs) {
    caller.ws.terminate();
    agent.ws.terminate();
  }
  child.send({ cmd: 'exit' });
  await once(child, 'exit');

  const sorted = transport.slice(0, nLat).sort();
  const agentward = c2a.slice(0, nC2a).sort();
  // late: a frame whose crossing (transport alone, look-ahead excluded) took over one frame period
  let late = 0;
  for (let i = 0; i < nLat; i++) if (transport[i] > FRAME_MS) late++;
  return {
    cpuUsPerFrame: us / Math.max(1, relayed),
    userUsPerFrame: user / Math.max(1, relayed),
    sysUsPerFrame: sys / Math.max(1, relayed),
    serverPreempted: ivcs,
    driverElu: elu,
    driverMaxLagMs: maxLag,
    p50: pct(agentward, 50),
    p99: pct(agentward, 99),
    transportP99: pct(sorted, 99),
    late,
    frames: relayed,
    memPerCallKB: (mem1 - mem0) / calls / 1024,
  };
}

export async function runRelayBench(): Promise<Record<string, number | string>> {
  productionBuild();
  const out: Record<string, number | string> = {};
  for (const n of CALL_COUNTS) {
    const bares: RunResult[] = [];
    const tws: RunResult[] = [];
    for (let i = 0; i < REPEAT; i++) {
      bares.push(await runOne('bare', n));
      tws.push(await runOne('tonewall', n));
    }
    // the run with the median CPU per frame stands for each kind (its other numbers come with it)
    const median = (rs: RunResult[]) => [...rs].sort((a, b) => a.cpuUsPerFrame - b.cpuUsPerFrame)[(rs.length - 1) >> 1];
    const bare = median(bares);
    const tw = median(tws);
    const r = (x: number) => Math.round(x * 100) / 100;
    if (REPEAT > 1) {
      out[`relay.${n}.cpu_us_per_frame_runs`] = tws.map((x) => r(x.cpuUsPerFrame)).join(' ');
      out[`relay.${n}.bare_cpu_us_per_frame_runs`] = bares.map((x) => r(x.cpuUsPerFrame)).join(' ');
    }
    out[`relay.${n}.cpu_us_per_frame`] = r(tw.cpuUsPerFrame);
    out[`relay.${n}.bare_cpu_us_per_frame`] = r(bare.cpuUsPerFrame);
    out[`relay.${n}.cpu_ratio_vs_bare`] = r(tw.cpuUsPerFrame / bare.cpuUsPerFrame);
    out[`relay.${n}.user_sys_us_per_frame`] = `${r(tw.userUsPerFrame)} + ${r(tw.sysUsPerFrame)}`;
    out[`relay.${n}.bare_user_sys_us_per_frame`] = `${r(bare.userUsPerFrame)} + ${r(bare.sysUsPerFrame)}`;
    out[`relay.${n}.added_latency_p50_ms`] = r(tw.p50);
    out[`relay.${n}.added_latency_p99_ms`] = r(tw.p99);
    out[`relay.${n}.transport_p99_ms`] = r(tw.transportP99);
    out[`relay.${n}.bare_latency_p50_ms`] = r(bare.p50);
    out[`relay.${n}.bare_latency_p99_ms`] = r(bare.p99);
    out[`relay.${n}.late_frames`] = tw.late;
    out[`relay.${n}.bare_late_frames`] = bare.late;
    out[`relay.${n}.frames_relayed`] = tw.frames;
    out[`relay.${n}.memory_kb_per_call`] = r(tw.memPerCallKB);
    out[`relay.${n}.bare_memory_kb_per_call`] = r(bare.memPerCallKB);
    out[`relay.${n}.server_preempted`] = tw.serverPreempted;
    out[`relay.${n}.bare_server_preempted`] = bare.serverPreempted;
    out[`relay.${n}.driver_elu`] = `${r(tw.driverElu)} (bare ${r(bare.driverElu)})`;
    out[`relay.${n}.driver_max_lag_ms`] = `${r(tw.driverMaxLagMs)} (bare ${r(bare.driverMaxLagMs)})`;
  }
  return out;
}

if (process.argv[2] === '--relay-server') {
  void serve(process.argv[3] as Kind);
} else if (require.main === module) {
  runRelayBench().then((r) => {
    // eslint-disable-next-line no-console
    console.table(r);
  });
}
