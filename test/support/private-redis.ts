/**
 * A redis-server of a test's own, which the test stops (SIGKILL, as a crash) and starts again on
 * the same port: the store going down under a call. It comes back empty, or with `persist` as a
 * Redis with an append-only file does, holding every write it acknowledged (fsynced on each).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RedisStore } from '../../src/store';
import { freePort } from './free-port';
import { startHarness, type Harness } from './harness';

export class PrivateRedis {
  private child?: ChildProcess;
  private dir?: string;

  private constructor(
    readonly port: number,
    private readonly persist: boolean,
    private readonly password?: string,
  ) {}

  /** `password`: the server requires it (requirepass), as a deployment's Redis does */
  static async start(opts: { persist?: boolean; password?: string } = {}): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), opts.persist ?? false, opts.password);
    if (redis.persist) redis.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-redis-'));
    await redis.up();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** killed by a signal, a process has a signalCode and no exitCode */
  get down(): boolean {
    return !this.child || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  async up(): Promise<void> {
    const persistence = this.dir ? ['--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const auth = this.password ? ['--requirepass', this.password] : [];
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence, ...auth], { stdio: 'ignore' });
    await waitForPong(this.port);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || this.down) return;
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGKILL');
    await exited;
  }

  /**
   * Stopped where it stands (SIGSTOP): its port still takes connections and commands, and
   * answers none, as a Redis wedged on a slow disk or a network that drops replies. `thaw`
   * lets it go on.
   */
  freeze(): void {
    if (this.down) throw new Error('a stopped redis cannot be frozen');
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    if (!this.down) this.child?.kill('SIGCONT');
  }

  /** stopped for good, its files removed */
  async close(): Promise<void> {
    this.thaw();
    await this.stop();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A test file's PrivateRedis and a RedisStore connected to it: started before its tests, both
 * closed after them. `redis` and `store` are read once beforeAll ran.
 */
export function privateRedisStore(): { readonly redis: PrivateRedis; readonly store: RedisStore } {
  const suite = {} as { redis: PrivateRedis; store: RedisStore };
  beforeAll(async () => {
    suite.redis = await PrivateRedis.start();
    suite.store = new RedisStore(suite.redis.url);
    await suite.store.connect();
  });
  afterAll(async () => {
    await suite.store?.close();
    await suite.redis?.close();
  });
  return suite;
}

async function waitForPong(port: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await pong(port))) {
    if (Date.now() > deadline) throw new Error('timed out waiting for redis to start');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * PING over a plain socket, not an ioredis client: a client refused before redis-server listens
 * has its socket closed already, so its disconnect() starts ioredis's 2 s disconnectTimeout timer
 * that no 'close' event clears, and that timer held the jest worker past the end of the run.
 */
function pong(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
    s.once('data', (d) => {
      s.destroy();
      // a Redis that requires a password answers a PING without one NOAUTH: up all the same
      resolve(/^(\+PONG|-NOAUTH)/.test(d.toString()));
    });
    s.write('PING\r\n');
  });
}

/**
 * The service on a Redis of the file's own (a test stops it under the service), made before the
 * file's tests and closed after them (the Redis brought back first if a test left it down).
 * `redis` and `h` are read once beforeAll ran.
 */
export function privateRedisHarness(): { readonly redis: PrivateRedis; readonly h: Harness } {
  const suite = {} as { redis: PrivateRedis; h: Harness };
  beforeAll(async () => {
    suite.redis = await PrivateRedis.start();
    suite.h = await startHarness({ env: { REDIS_URL: suite.redis.url } });
  }, 30_000);
  afterAll(async () => {
    if (suite.redis?.down) await suite.redis.up();
    await suite.h?.close();
    await suite.redis?.close();
  });
  return suite;
}
