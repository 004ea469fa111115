/**
 * The process itself: a missing or malformed required variable stops it with one line naming
 * the variable and exit code 1, as do credentials Twilio refuses; a REST base URL that does not
 * serve the account starts, ready, and says what to fix; with a valid environment it answers /healthz.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from '../../support/harness';
import { PrivateRedis } from '../../support/private-redis';
import { generateKeyRingText } from '../../../src/vault';
import { startTwilioEmulator, type TwilioEmulator } from '../../../tools/emulator';

const root = path.join(__dirname, '../../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');

const valid = () => ({
  TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32),
  TWILIO_AUTH_TOKEN: 'x'.repeat(32),
  VAULT_KEYS: generateKeyRingText('k1'),
  AGENT_JWT_SECRET: 'j'.repeat(40),
  FLOWS_DIR: path.join(root, 'config/flows'),
  PROCESSORS_FILE: path.join(root, 'test/fixtures/no-processors.yaml'),
  LOG_LEVEL: 'warn',
  // a free port: a fixed one may be taken on a shared machine
  METRICS_PORT: '0',
});

function run(env: Record<string, string>, cwd = root): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    // a clean environment: no .env and nothing inherited that could fill a gap
    const child = spawn(tsx, ['src/server.ts'], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    child.on('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

// the REST check at start (twilio/rest-check.ts) asks this emulator, as the process would ask Twilio
let emulator: TwilioEmulator;
beforeAll(async () => {
  emulator = await startTwilioEmulator({ accountSid: valid().TWILIO_ACCOUNT_SID, authToken: valid().TWILIO_AUTH_TOKEN });
});
afterAll(async () => emulator?.close());

describe('process start', () => {
  test.each(['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'VAULT_KEYS', 'AGENT_JWT_SECRET'])(
    '%s missing → one line naming it, exit 1',
    async (name) => {
      const env: Record<string, string> = valid();
      delete env[name];
      const { code, stderr } = await run(env);
      expect(code).toBe(1);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(name);
    },
    20000,
  );

  test.each([
    ['TWILIO_ACCOUNT_SID', 'not-a-sid'],
    ['PORT', 'eighty'],
    ['PUBLIC_URL', 'ivr.example.com'],
    ['MASK_LOOKAHEAD_MS', '7'],
    ['VAULT_KEYS', 'k1:short'],
    ['INSTANCE_MESSAGE_KEY', 'short'],
  ])(
    '%s malformed → one line naming it, exit 1',
    async (name, value) => {
      const { code, stderr } = await run({ ...valid(), [name]: value });
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toContain(name);
      if (name === 'VAULT_KEYS' || name === 'INSTANCE_MESSAGE_KEY') expect(stderr).not.toContain('short');
    },
    20000,
  );

  test('an invalid flow file stops the service with the file, path and reason', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/tw-flows-');
    writeFileSync(path.join(dir, 'bad.yaml'), 'id: bad\nnumbers: ["+15005550006"]\nsteps:\n  - collect: card\n    kind: card-numbr\n    prompt: x\n');
    const { code, stderr } = await run({ ...valid(), FLOWS_DIR: dir });
    expect(code).toBe(1);
    expect(stderr).toContain('bad.yaml');
    expect(stderr).toContain('steps.0.kind');
  }, 20000);

  test('an auth token Twilio refuses → one line naming the setting, exit 1, no token in the output', async () => {
    const token = 'y'.repeat(32);
    const env = { ...valid(), LOG_LEVEL: 'debug', TWILIO_API_BASE_URL: emulator.baseUrl, TWILIO_AUTH_TOKEN: token };
    const { code, stderr, stdout } = await run(env);
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tonewall: cannot start: TW_ERR_CONFIG_INVALID: TWILIO_AUTH_TOKEN/);
    expect(lines[0]).toContain('answered 401');
    // neither the token configured nor the account's own (the account resource carries it) reaches the output
    for (const secret of [token, valid().TWILIO_AUTH_TOKEN]) expect(stderr + stdout).not.toContain(secret);
    // the service never got as far as opening its port
    expect(stdout).not.toContain('Server listening');
  }, 20000);

  test.each([
    ['a base URL with the version in it (every path doubles)', '/2010-04-01'],
    ['a base URL with a path a proxy does not serve', '/twilio'],
  ])(
    '%s → it starts and is ready (the contract asks only calls and recordings of the REST API), and says what to fix',
    async (_what, basePath) => {
      const port = await freePort();
      const child = spawn(tsx, ['src/server.ts'], {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          ...valid(),
          LOG_LEVEL: 'info',
          PORT: String(port),
          HOST: '127.0.0.1',
          TWILIO_API_BASE_URL: emulator.baseUrl + basePath,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      try {
        const ready = await waitFor(
          async () => {
            try {
              const res = await fetch(`http://127.0.0.1:${port}/readyz`);
              return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
            } catch {
              return null;
            }
          },
          '/readyz',
          15000,
        );
        expect(ready).toEqual({ status: 200, body: expect.objectContaining({ checks: expect.objectContaining({ twilio: 'unverified' }) }) });
        const line = out.split('\n').find((l) => l.includes('Twilio REST configuration not verified'));
        expect(line).toBeDefined();
        expect(JSON.parse(line!)).toMatchObject({ level: 50, variable: 'TWILIO_API_BASE_URL', reason: expect.stringContaining(`it has a path, ${basePath}`) });
        expect(out).not.toContain(valid().TWILIO_AUTH_TOKEN);
      } finally {
        // SIGTERM, which tsx passes on to the server it runs (a SIGKILL would end tsx alone and leave the server running)
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
    30000,
  );

  test('with a valid environment it answers /healthz, serves /metrics on METRICS_PORT only, and stops on SIGTERM', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const child = spawn(tsx, ['src/server.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        ...valid(),
        PORT: String(port),
        HOST: '127.0.0.1',
        METRICS_PORT: String(metricsPort),
        TWILIO_API_BASE_URL: emulator.baseUrl,
      },
      stdio: 'ignore',
    });
    try {
      await waitFor(
        async () => {
          try {
            return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
          } catch {
            return false;
          }
        },
        '/healthz',
        15000,
      );
      const metrics = await waitFor(
        async () => {
          try {
            return await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
          } catch {
            return null;
          }
        },
        'the metrics port',
        15000,
      );
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('tonewall_calls_active');
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30000);

  // Redis is asked once at start (store/redis.ts connect): the client's own rejection said only
  // "Connection is closed." for a Redis down, a wrong password and a TLS mismatch alike
  describe('REDIS_URL that cannot be used at start → one line naming it, where it points and why, exit 1, never the password', () => {
    const PASSWORD = 'the-right-redis-password-0123456789';
    const WRONG = 'a-wrong-redis-password-9876543210';
    let redis: PrivateRedis;
    beforeAll(async () => {
      redis = await PrivateRedis.start({ password: PASSWORD });
    });
    afterAll(async () => redis?.close());

    test.each([
      ['nothing listening there', async () => `redis://:${WRONG}@127.0.0.1:${await freePort()}`, /ECONNREFUSED/],
      ['a wrong password', async () => `redis://:${WRONG}@127.0.0.1:${redis.port}`, /WRONGPASS/],
      ['no password for a Redis that requires one', async () => `redis://127.0.0.1:${redis.port}`, /NOAUTH/],
    ])(
      '%s',
      async (_what, redisUrl, reason) => {
        const url = await redisUrl();
        const { code, stderr, stdout } = await run({ ...valid(), TWILIO_API_BASE_URL: emulator.baseUrl, REDIS_URL: url });
        expect(code).toBe(1);
        const lines = stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^tonewall: cannot start: TW_ERR_CONFIG_INVALID: REDIS_URL: /);
        expect(lines[0]).toContain(new URL(url).host);
        expect(lines[0]).toMatch(reason);
        for (const secret of [WRONG, PASSWORD]) expect(stderr + stdout).not.toContain(secret);
      },
      20000,
    );

    test('rediss:// to a Redis whose certificate is not trusted: the line says so and what to set', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-redis-tls-'));
      const port = await freePort();
      let server: ChildProcess | undefined;
      try {
        // a self-signed certificate, as a Redis of one's own or a private CA's
        execFileSync(
          'openssl',
          ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'].concat([
            '-keyout',
            path.join(dir, 'key.pem'),
            '-out',
            path.join(dir, 'cert.pem'),
          ]),
          { stdio: 'ignore' },
        );
        server = spawn(
          'redis-server',
          ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', path.join(dir, 'cert.pem')].concat([
            '--tls-key-file',
            path.join(dir, 'key.pem'),
            '--tls-auth-clients',
            'no',
            '--save',
            '',
            '--appendonly',
            'no',
          ]),
          { stdio: 'ignore' },
        );
        const listening = () =>
          new Promise<boolean>((res) => {
            const s = net.connect(port, '127.0.0.1', () => {
              s.destroy();
              res(true);
            });
            s.once('error', () => res(false));
          });
        await waitFor(listening, 'the TLS redis-server');
        const url = `rediss://:${PASSWORD}@127.0.0.1:${port}`;
        const { code, stderr, stdout } = await run({ ...valid(), TWILIO_API_BASE_URL: emulator.baseUrl, REDIS_URL: url });
        expect(code).toBe(1);
        const lines = stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^tonewall: cannot start: TW_ERR_CONFIG_INVALID: REDIS_URL: .*certificate.*NODE_EXTRA_CA_CERTS/);
        expect(stderr + stdout).not.toContain(PASSWORD);
      } finally {
        server?.kill('SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 20000);
  });

  // app.listen was awaited bare: a port taken or an address not this machine's ended the process
  // with an unhandled rejection's stack trace, naming no variable
  test('METRICS_HOST: an address not on this machine → one line naming it, exit 1', async () => {
    const { code, stderr } = await run({ ...valid(), TWILIO_API_BASE_URL: emulator.baseUrl, HOST: '127.0.0.1', PORT: '0', METRICS_HOST: '192.0.2.1' });
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tonewall: cannot start: METRICS_HOST 192\.0\.2\.1: .*EADDRNOTAVAIL/);
  }, 20000);

  test.each([
    ['PORT', 'a port another process listens on'],
    ['HOST', 'an address not on this machine'],
  ])(
    '%s: %s → one line naming it, exit 1',
    async (name) => {
      const taken = net.createServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
      try {
        const port = (taken.address() as net.AddressInfo).port;
        const env = name === 'PORT' ? { HOST: '127.0.0.1', PORT: String(port) } : { HOST: '192.0.2.1', PORT: '0' };
        const { code, stderr } = await run({ ...valid(), TWILIO_API_BASE_URL: emulator.baseUrl, ...env });
        expect(code).toBe(1);
        const lines = stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^tonewall: cannot start: ${name}: cannot listen on ${env.HOST} port ${env.PORT}: EADDR`));
      } finally {
        taken.close();
      }
    },
    20000,
  );
});
