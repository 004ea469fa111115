/**
 * Instructions per signed webhook, counted by valgrind's callgrind: the same figure whatever else
 * the machine runs, where bench/webhook.ts's req/s and CPU µs move with the host's other load.
 * `npm run bench:instructions` (a few minutes; needs valgrind).
 *
 * The service (production build, embedded store, as webhook.ts's `embedded` server) runs in a
 * child process under callgrind; this process sends it, one at a time over loopback, WARMUP new
 * calls and their gathers unmeasured, then N first webhooks (`POST /twilio/voice`, each a new
 * call) and then N gathers (`POST /twilio/gather/1/1`, the bench flow's one question answered
 * with valid digits: sealed, audited, dialled), each signed with the twilio package's own code.
 * The start and the warm-up run uninstrumented (valgrind without counting is several times
 * faster), then callgrind_control turns counting on. Between the phases the child calls
 * os.getPriority(), and callgrind, run with `--dump-before=uv_os_getpriority`, writes the counts
 * so far to a file of their own: each phase's instructions are the service's alone (this
 * process, the load generator, is not under valgrind), its HTTP parsing and answer included.
 *
 * V8 runs `--single-threaded` (no compiler or GC threads whose timing would vary the count), and
 * its own work, tiering up (TurboFan compiles go on long after any warm-up) and garbage
 * collection, is reported apart (V8_OWN): the figures to compare are the requests' own work.
 * Attribution is not callgrind's (it cannot name JIT-compiled JS frames): WEBHOOK_PROF=<dir>
 * runs the same sequence without valgrind under `--cpu-prof`, one profile per phase.
 * WEBHOOK_CALLS (N, default 400) and WEBHOOK_WARMUP (default 2000) set the counts.
 */
import { fork, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import twilio from 'twilio';
import { freePort, fromBuild, productionBuild, WEBHOOK_ACCOUNT_SID as ACCOUNT_SID, WEBHOOK_AUTH_TOKEN as AUTH_TOKEN, voiceParams } from './support';

const CALLS = Number(process.env.WEBHOOK_CALLS ?? 400);
const WARMUP = Number(process.env.WEBHOOK_WARMUP ?? 2000);
const PROF_DIR = process.env.WEBHOOK_PROF;
/**
 * Work of V8's own entered from the running code, counted apart: its tiering up (a TurboFan
 * compile, its OSR form too, and the budget interrupts that decide one) and its garbage
 * collector's collections and incremental marking. Each counts the calls into it from outside
 * it (the inclusive cost of each), which add up to all it costs.
 */
const V8_OWN = {
  tiering: /^cfn=v8::internal::Runtime_(CompileOptimized|BytecodeBudgetInterrupt)/,
  gc: /^cfn=v8::internal::(Heap::(CollectGarbage|CollectAllGarbage|FinalizeIncrementalMarking|StartIncrementalMarking)|IncrementalMarking::|MemoryReducer|ScavengeJob|MinorGCJob|IncrementalMarkingJob)/,
};
type V8Own = keyof typeof V8_OWN;

const gatherParams = (callSid: string) => ({ ...voiceParams(callSid), CallStatus: 'in-progress', Digits: '12345678' });
const callSid = (n: number) => 'CA' + n.toString(16).padStart(32, '0');

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(origin: string, p: string, params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams(params).toString();
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    'content-length': String(Buffer.byteLength(body)),
    'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, origin + p, params),
  };
  return new Promise((resolve, reject) => {
    const req = http.request(origin + p, { method: 'POST', headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${p}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `amount` calls from `first`: each a first webhook, then (when `gathers`) each call's gather */
async function calls(origin: string, first: number, amount: number, phase: 'voice' | 'gather'): Promise<void> {
  for (let i = first; i < first + amount; i++) {
    const answer =
      phase === 'voice' ? await post(origin, '/twilio/voice', voiceParams(callSid(i))) : await post(origin, '/twilio/gather/1/1', gatherParams(callSid(i)));
    const expect = phase === 'voice' ? /<Gather/ : /<Dial/;
    if (!expect.test(answer)) throw new Error(`${phase} of call ${i} not answered as expected: ${answer}`);
  }
}

/** the service, under callgrind (or --cpu-prof with WEBHOOK_PROF); `mark()` ends a phase */
async function startService(outDir: string) {
  const port = await freePort();
  const nodeArgs = ['--predictable', '--hash-seed=1', '--random-seed=1', '-r', 'tsx/cjs'];
  const child = PROF_DIR
    ? fork(__filename, ['--serve', String(port)], { execArgv: nodeArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : fork(__filename, ['--serve', String(port)], {
        execPath: 'valgrind',
        execArgv: [
          '--tool=callgrind',
          // the start and the warm-up run uninstrumented (several times faster), until warmed()
          '--instr-atstart=no',
          '--dump-before=uv_os_getpriority',
          '--dump-instr=no',
          // names in full on every line, for counts() to read
          '--compress-strings=no',
          `--callgrind-out-file=${path.join(outDir, 'callgrind.out.%p')}`,
          process.execPath,
          ...nodeArgs,
        ],
        stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    void exited.then((code) => reject(new Error(`service exited with ${code}\n${stderr}`)));
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    /** instrumentation on: callgrind counts from here (its next dump, the warm mark's, is dropped) */
    warmed: () => {
      if (PROF_DIR) return;
      const r = spawnSync('callgrind_control', ['--instr=on', String(child.pid)], { encoding: 'utf8', timeout: 60_000 });
      if (r.status !== 0) throw new Error(`callgrind_control --instr=on failed: ${r.stdout}${r.stderr}`);
    },
    mark: (name: string) =>
      new Promise<void>((resolve) => {
        child.once('message', () => resolve());
        child.send(`mark ${name}`);
      }),
    stop: async () => {
      child.send('stop');
      await exited;
      return stderr;
    },
  };
}

/** one callgrind dump's instructions (Ir), its `totals:` line, and of them V8_OWN's (names uncompressed: --compress-strings=no) */
function counts(file: string): Record<'total' | V8Own, number> {
  const text = fs.readFileSync(file, 'utf8');
  const m = /^totals:\s+(\d+)/m.exec(text);
  if (!m) throw new Error(`no totals in ${file}`);
  const c = { total: Number(m[1]), tiering: 0, gc: 0 };
  const kinds = Object.keys(V8_OWN) as V8Own[];
  const kindOf = (cfnLine: string) => kinds.find((k) => V8_OWN[k].test(cfnLine));
  let caller: V8Own | undefined;
  let callee: V8Own | undefined;
  let call: V8Own | undefined | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('fn=')) caller = kindOf('c' + line);
    else if (line.startsWith('cfn=')) callee = kindOf(line);
    else if (line.startsWith('calls=')) call = caller === undefined ? callee : undefined;
    else if (call !== null && /^[+-]?\d|^\*/.test(line)) {
      // the line after calls= is the call's inclusive cost
      if (call) c[call] += Number(line.trim().split(/\s+/)[1] ?? 0);
      call = null;
    }
  }
  return c;
}

export async function runWebhookInstructions(): Promise<Record<string, number | string>> {
  productionBuild();
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-callgrind-'));
  const svc = await startService(outDir);
  let stderr = '';
  try {
    await calls(svc.origin, 0, WARMUP, 'voice');
    await calls(svc.origin, 0, WARMUP, 'gather');
    svc.warmed();
    await svc.mark('warm');
    await calls(svc.origin, WARMUP, CALLS, 'voice');
    await svc.mark('voice');
    await calls(svc.origin, WARMUP, CALLS, 'gather');
    await svc.mark('gather');
  } finally {
    agent.destroy();
    stderr = await svc.stop();
  }
  if (PROF_DIR) return { 'profiles written to': PROF_DIR };
  // the last three dumps: the warm mark's (instrumentation turned on to it), the first webhooks', the gathers'
  const dumps = fs
    .readdirSync(outDir)
    .map((f) => /^callgrind\.out\.\d+\.(\d+)$/.exec(f))
    .filter((m) => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => path.join(outDir, m[0]));
  if (dumps.length < 3) throw new Error(`callgrind wrote no per-phase dumps in ${outDir}\n${stderr}`);
  const [voice, gather] = dumps.slice(-2).map(counts);
  const per = (n: number) => Math.round(n / CALLS);
  const own = (c: Record<'total' | V8Own, number>) => per(c.total - c.tiering - c.gc);
  return {
    // V8 still tiers functions up long after any warm-up (one TurboFan compile of a large
    // function costs as much as a hundred requests), and a major GC lands in one window or the
    // next as the heap grows (and, under valgrind's slowness, as V8's timers fire): both move
    // with any change to the code, so the figures to compare are the requests' own work, with
    // V8's beside them
    'voice: instructions per request (V8 tiering, GC left out)': own(voice),
    'gather: instructions per request (V8 tiering, GC left out)': own(gather),
    'voice: all, V8 tiering, GC (per request)': `${per(voice.total)}, ${per(voice.tiering)}, ${per(voice.gc)}`,
    'gather: all, V8 tiering, GC (per request)': `${per(gather.total)}, ${per(gather.tiering)}, ${per(gather.gc)}`,
    'calls per phase (after warm-up)': `${CALLS} (${WARMUP})`,
    'callgrind dumps': outDir,
  };
}

/** the longest delay a timer takes (2^31 - 1 ms, about 24.8 days) */
const NEVER_MS = 2 ** 31 - 1;

async function serve(port: number): Promise<void> {
  // The service's periodic work (the embedded store's sweep, the call sweep, the pollers) is no
  // request's, and how often it runs in a phase depends on the phase's wall time, which valgrind
  // stretches as the machine's other load does: under callgrind, none of it fires.
  if (!PROF_DIR) {
    const every = setInterval;
    globalThis.setInterval = ((fn: () => void, _ms?: number, ...args: unknown[]) => every(fn, NEVER_MS, ...args)) as typeof setInterval;
  }
  const { buildApp } = fromBuild<typeof import('../src/app')>('src/app');
  const { loadConfig } = fromBuild<typeof import('../src/config')>('src/config');
  const { generateKeyRingText } = fromBuild<typeof import('../src/vault')>('src/vault');
  const origin = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_URL: origin,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
    VAULT_KEYS: generateKeyRingText('bench'),
    AGENT_JWT_SECRET: 'bench-secret-0123456789abcdef0123456789',
    FLOWS_DIR: path.join(__dirname, 'flows'),
    PROCESSORS_FILE: path.join(__dirname, 'no-processors.yaml'),
    LOG_LEVEL: 'warn',
  });
  const app = await buildApp(config, { logStream: new Writable({ write: (_c, _e, cb) => cb() }), keyPrefix: 'twinstr:' });
  await app.listen({ port, host: '127.0.0.1' });
  let session: import('node:inspector').Session | undefined;
  process.on('message', (m) => {
    const [what, name] = String(m).split(' ');
    if (what === 'stop') {
      void app.close().then(() => process.exit(0));
      return;
    }
    if (PROF_DIR) {
      // one profile per phase, started as the phase starts
      void import('node:inspector').then(async ({ Session }) => {
        const post = <T>(method: string, params?: object) =>
          new Promise<T>((res, rej) => session!.post(method, params ?? {}, (err, r) => (err ? rej(err) : res(r as T))));
        if (session) {
          const { profile } = await post<{ profile: object }>('Profiler.stop');
          fs.mkdirSync(PROF_DIR, { recursive: true });
          fs.writeFileSync(path.join(PROF_DIR, `${name}.cpuprofile`), JSON.stringify(profile));
        } else {
          session = new Session();
          session.connect();
          await post('Profiler.enable');
          await post('Profiler.setSamplingInterval', { interval: 50 });
        }
        await post('Profiler.start');
        process.send?.('marked');
      });
      return;
    }
    // callgrind (--dump-before=uv_os_getpriority) writes the phase's counts here
    os.getPriority();
    process.send?.('marked');
  });
  process.send?.('ready');
}

if (require.main === module && process.argv[2] === '--serve') {
  serve(Number(process.argv[3])).catch((e: unknown) => {
    process.stderr.write(`${inspect(e)}\n`);
    process.exit(1);
  });
} else if (require.main === module) {
  runWebhookInstructions().then(
    (r) => {
      for (const [k, v] of Object.entries(r)) process.stdout.write(`${k.padEnd(52)} ${v}\n`);
    },
    (e: unknown) => {
      process.stderr.write(`${inspect(e)}\n`);
      process.exit(1);
    },
  );
}
