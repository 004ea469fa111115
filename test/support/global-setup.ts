/**
 * Tests use a real Redis. When REDIS_URL is unset, start a private redis-server on a free port
 * (no persistence) for this run and stop it afterwards; fail loudly when none is installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { freePort } from './free-port';

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not listen on ${port} within ${ms} ms`);
}

export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL) return;
  const which = spawnSync('redis-server', ['--version']);
  if (which.error || which.status !== 0) {
    throw new Error('The tests need a real Redis: install redis-server (apt-get install redis-server) or set REDIS_URL.');
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
    detached: false,
  });
  await waitForPort(port, 5000);
  process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
  process.env.TONEWALL_TEST_REDIS_PID = String(child.pid);
  (globalThis as { __redisChild?: unknown }).__redisChild = child;
}
