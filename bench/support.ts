import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../tools/free-port';
export { freePort };

const ROOT = path.resolve(__dirname, '..');
let built = false;

/**
 * The servers the benchmarks measure run the production build (dist/, what `npm start` runs),
 * rebuilt here so it matches src/. Not the tsx-transpiled sources: tsx turns every imported
 * binding into a getter call, work that production does not do.
 */
export function productionBuild(): void {
  if (built) return;
  const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('the benchmark could not build the service (tsc -p tsconfig.build.json)');
  built = true;
}

/** A module of the production build, e.g. fromBuild<typeof import('../src/app')>('src/app') */
export function fromBuild<T>(modulePath: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(ROOT, 'dist', modulePath)) as T;
}

/** REDIS_URL, or a private redis-server on a free port for the length of the benchmark */
export async function benchRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => undefined };
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('the benchmark needs redis-server or REDIS_URL');
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.end(), r(true)));
      c.on('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * A benchmark run on its own (`npx tsx bench/x.ts`): its numbers printed one a line, their names
 * aligned; a failure printed, and the exit code set.
 */
export function printBench(run: () => Promise<Record<string, number | string>>): void {
  run()
    .then((r) => {
      const w = Math.max(...Object.keys(r).map((k) => k.length));
      // eslint-disable-next-line no-console
      for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(w)}  ${v}`);
    })
    .catch((e: unknown) => {
      // eslint-disable-next-line no-console
      console.error(e);
      process.exitCode = 1;
    });
}

/** the webhook benches' account, auth token and number (bench/webhook.ts, bench/webhook-instructions.ts) */
export const WEBHOOK_ACCOUNT_SID = 'AC' + 'b'.repeat(32);
export const WEBHOOK_AUTH_TOKEN = 'bench-auth-token-0123456789abcdef';
export const WEBHOOK_NUMBER = '+15005550099';

/** a new call's first webhook, as Twilio posts it to the bench's number */
export const voiceParams = (callSid: string) => ({
  AccountSid: WEBHOOK_ACCOUNT_SID,
  CallSid: callSid,
  From: '+15551230000',
  To: WEBHOOK_NUMBER,
  CallStatus: 'ringing',
  Direction: 'inbound',
});
