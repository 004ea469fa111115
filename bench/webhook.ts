/**
 * Signed `POST /twilio/voice` throughput and latency with autocannon against the Redis store,
 * next to a bare Fastify route (form body parsing, static TwiML) measured in the same run.
 * Every request is a new call (its own CallSid, signed as Twilio signs it), so the replay cache
 * answers none of them. The service runs as built for production (dist/, rebuilt first).
 */
import autocannon from 'autocannon';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import Redis from 'ioredis';
import { fork } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import twilio from 'twilio';
import { benchRedis, freePort, fromBuild, productionBuild } from './support';

const DURATION_S = Number(process.env.BENCH_WEBHOOK_SECONDS ?? 8);
const CONNECTIONS = 32;
const ACCOUNT_SID = 'AC' + 'b'.repeat(32);
const AUTH_TOKEN = 'bench-auth-token-0123456789abcdef';

async function cannon(url: string, signFor: string) {
  let n = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const callSid = 'CA' + (n++).toString(16).padStart(32, '0');
          const params = { AccountSid: ACCOUNT_SID, CallSid: callSid, From: '+15551230000', To: '+15005550099', CallStatus: 'ringing', Direction: 'inbound' };
          return {
            ...req,
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, signFor, params),
            },
            body: new URLSearchParams(params).toString(),
          };
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

/** commands Redis has run so far (INFO commandstats: a script's own commands count too) */
async function redisCommands(url: string): Promise<{ commands: number; scripts: number }> {
  const r = new Redis(url);
  try {
    const info = await r.info('commandstats');
    let commands = 0;
    let scripts = 0;
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (m[1] === 'info') continue;
      commands += Number(m[2]);
      if (m[1] === 'evalsha' || m[1] === 'eval') scripts += Number(m[2]);
    }
    return { commands, scripts };
  } finally {
    r.disconnect();
  }
}

/** the two servers run in a child process, so the load generator does not share their event loop */
async function serve(kind: 'service' | 'bare', redisUrl: string): Promise<{ url: string; cpu: () => Promise<number>; stop: () => Promise<void> }> {
  const child = fork(__filename, ['--serve', kind, redisUrl], {
    execArgv: ['-r', 'tsx/cjs', ...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=.scratch/prof'] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve(String(m)));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return {
    url,
    // the server process's CPU time (user + system, µs): per request, it is less at the mercy
    // of other load on the machine than req/s
    cpu: () =>
      new Promise<number>((resolve) => {
        child.once('message', (m) => resolve(Number(m)));
        child.send('cpu');
      }),
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function startServer(kind: 'service' | 'bare', redisUrl: string): Promise<string> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (kind === 'bare') {
    const bare = Fastify();
    await bare.register(formbody);
    const twiml = new twilio.twiml.VoiceResponse();
    twiml.say('Welcome.');
    const body = twiml.toString();
    bare.post('/twilio/voice', async (_req, reply) => reply.type('text/xml').send(body));
    await bare.listen({ port, host: '127.0.0.1' });
    return url;
  }
  const { buildApp } = fromBuild<typeof import('../src/app')>('src/app');
  const { loadConfig } = fromBuild<typeof import('../src/config')>('src/config');
  const { generateKeyRingText } = fromBuild<typeof import('../src/vault')>('src/vault');
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_URL: url,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
    VAULT_KEYS: generateKeyRingText('bench'),
    AGENT_JWT_SECRET: 'bench-secret-0123456789abcdef0123456789',
    FLOWS_DIR: path.join(__dirname, 'flows'),
    PROCESSORS_FILE: path.join(__dirname, 'no-processors.yaml'),
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'warn',
  });
  const app = await buildApp(config, { logStream: new Writable({ write: (_c, _e, cb) => cb() }), keyPrefix: `twbench:${Date.now()}:` });
  await app.listen({ port, host: '127.0.0.1' });
  return url;
}

/** autocannon against one server, with the server's CPU time over the run; stops the server */
async function load(server: Awaited<ReturnType<typeof serve>>) {
  try {
    const cpuBefore = await server.cpu();
    const result = await cannon(`${server.url}/twilio/voice`, `${server.url}/twilio/voice`);
    return { ...result, cpuUs: (await server.cpu()) - cpuBefore };
  } finally {
    await server.stop();
  }
}

export async function runWebhookBench(): Promise<Record<string, number | string>> {
  productionBuild();
  const redis = await benchRedis();
  try {
    const before = await redisCommands(redis.url);
    const service = await load(await serve('service', redis.url));
    const after = await redisCommands(redis.url);
    const baseline = await load(await serve('bare', redis.url));
    return {
      'webhook: service req/s': Math.round(service.rps),
      'webhook: service p50 ms': service.p50,
      'webhook: service p99 ms': service.p99,
      'webhook: service non-2xx': service.non2xx,
      'webhook: service CPU µs per call': Math.round(service.cpuUs / service.total),
      'webhook: redis commands per call': Number(((after.commands - before.commands) / service.total).toFixed(1)),
      'webhook: redis scripts per call': Number(((after.scripts - before.scripts) / service.total).toFixed(1)),
      'webhook: bare fastify req/s': Math.round(baseline.rps),
      'webhook: bare fastify p50 ms': baseline.p50,
      'webhook: bare fastify p99 ms': baseline.p99,
      'webhook: bare fastify CPU µs per call': Math.round(baseline.cpuUs / baseline.total),
      'webhook: ratio service/bare': Number((service.rps / baseline.rps).toFixed(3)),
    };
  } finally {
    await redis.stop();
  }
}

if (require.main === module && process.argv[2] === '--serve') {
  process.on('SIGTERM', () => process.exit(0));
  process.on('message', (m) => {
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send?.(String(u.user + u.system));
    }
  });
  startServer(process.argv[3] as 'service' | 'bare', process.argv[4]).then((url) => process.send?.(url));
} else if (require.main === module) {
  runWebhookBench().then(
    (r) => {
      for (const [k, v] of Object.entries(r)) process.stdout.write(`${k.padEnd(34)} ${v}\n`);
    },
    (e) => {
      process.stderr.write(`${(e as Error).stack}\n`);
      process.exit(1);
    },
  );
}
