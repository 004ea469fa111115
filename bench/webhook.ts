/**
 * Signed `POST /twilio/voice` throughput and latency with autocannon against the Redis store,
 * next to a bare Fastify route (form body parsing, static TwiML) measured in the same run.
 * Every request is a new call (its own CallSid, signed as Twilio signs it), so the replay cache
 * answers none of them.
 */
import autocannon from 'autocannon';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import path from 'node:path';
import { Writable } from 'node:stream';
import twilio from 'twilio';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { generateKeyRingText } from '../src/vault';
import { benchRedis, freePort } from './support';

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
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, signFor, params) },
            body: new URLSearchParams(params).toString(),
          };
        },
      },
    ],
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

export async function runWebhookBench(): Promise<Record<string, number | string>> {
  const redis = await benchRedis();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_URL: url,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
    VAULT_KEYS: generateKeyRingText('bench'),
    AGENT_JWT_SECRET: 'bench-secret-0123456789abcdef0123456789',
    FLOWS_DIR: path.join(__dirname, 'flows'),
    REDIS_URL: redis.url,
    LOG_LEVEL: 'warn',
  });
  const app = await buildApp(config, { logStream: new Writable({ write: (_c, _e, cb) => cb() }), keyPrefix: `twbench:${Date.now()}:` });
  await app.listen({ port, host: '127.0.0.1' });

  const barePort = await freePort();
  const bare = Fastify();
  await bare.register(formbody);
  const twiml = new twilio.twiml.VoiceResponse();
  twiml.say('Welcome.');
  const body = twiml.toString();
  bare.post('/twilio/voice', async (_req, reply) => reply.type('text/xml').send(body));
  await bare.listen({ port: barePort, host: '127.0.0.1' });

  try {
    const service = await cannon(`${url}/twilio/voice`, `${url}/twilio/voice`);
    const baseline = await cannon(`http://127.0.0.1:${barePort}/twilio/voice`, `http://127.0.0.1:${barePort}/twilio/voice`);
    return {
      'webhook: service req/s': Math.round(service.rps),
      'webhook: service p50 ms': service.p50,
      'webhook: service p99 ms': service.p99,
      'webhook: service non-2xx': service.non2xx,
      'webhook: bare fastify req/s': Math.round(baseline.rps),
      'webhook: bare fastify p50 ms': baseline.p50,
      'webhook: bare fastify p99 ms': baseline.p99,
      'webhook: ratio service/bare': Number((service.rps / baseline.rps).toFixed(3)),
    };
  } finally {
    await app.close();
    await bare.close();
    await redis.stop();
  }
}

if (require.main === module) {
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
