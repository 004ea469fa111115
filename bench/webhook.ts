/**
 * Signed `POST /twilio/voice` throughput and latency with autocannon against the Redis store,
 * next to a bare Fastify route (form body parsing, static TwiML) measured in the same run, and
 * the signed floor: the bare route doing what every Twilio webhook of the service must before
 * its handler runs (the service's signature check and its fixed security headers), nothing more.
 * The floor is the most any signed webhook can reach on the machine; what lies between it and
 * the service is the call's own work (its records, the caller's number sealed, its audit entry,
 * the store round trip). And the store floor: the signed floor plus the one store write a new
 * call makes, the service's own write sampled from its run and repeated per request through the
 * service's store client (only the CallSid changed), without any of the work that builds it:
 * the most a first webhook that keeps its one write can reach on the machine. Last, the same
 * service on its embedded store (REDIS_URL unset, one instance): its own work with no round trip.
 * Every request is a new call (its own CallSid, signed as Twilio signs it), so the replay cache
 * answers none of them. The service runs as built for production (dist/, rebuilt first).
 *
 * Then the webhook after the first: signed `POST /twilio/gather/1/1` answering the bench flow's
 * one question (bench/flows/bench.yaml: valid digits, so the field is sealed into the vault,
 * audited, and the call dialled), each request for a call of its own that `/twilio/voice`
 * created first, unmeasured. Calls are created and answered in batches smaller than what the
 * service remembers of its recent writes (store/recent.ts), so each gather finds its call as a
 * webhook a few seconds after the call's first would on a real instance.
 */
import autocannon from 'autocannon';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import Redis from 'ioredis';
import { fork } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import twilio from 'twilio';
import { benchRedis, freePort, fromBuild, productionBuild, WEBHOOK_ACCOUNT_SID as ACCOUNT_SID, WEBHOOK_AUTH_TOKEN as AUTH_TOKEN, voiceParams } from './support';

const DURATION_S = Number(process.env.BENCH_WEBHOOK_SECONDS ?? 8);
const CONNECTIONS = 32;
/** gathers measured in all; each answers a call of its own */
const GATHER_CALLS = Number(process.env.BENCH_GATHER_CALLS ?? 8000);
/**
 * Calls created, then answered, at a time. A batch's calls are all the keys it writes, fewer
 * than the newest 1024 the service always remembers per kind of record (store/recent.ts
 * RecentValues, audit/trail.ts LAST_WRITTEN_MAX): no gather pays for a memory that a bench's
 * burst of new calls flushed and a real instance's few calls a second would not.
 */
const GATHER_BATCH = 800;
/** valid for the bench flow's account field (digits, 6 to 10) */
const GATHER_DIGITS = '12345678';

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
          const params = voiceParams(callSid);
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

/**
 * `amount` signed requests, the n-th made by `paramsFor(n)`: its URL path and form parameters.
 * Every answer's body must match `expect` (a valid gather is answered with the flow's <Dial>, a
 * new call with its <Gather>); the others are counted. Latencies go into `latencies` (ms).
 */
async function cannonEach(
  origin: string,
  amount: number,
  paramsFor: (n: number) => { path: string; params: Record<string, string> },
  expect: RegExp,
  latencies: number[] = [],
) {
  let n = 0;
  let unexpected = 0;
  // from the start to the last answer: autocannon itself ends a run of `amount` at its next
  // one-second tick, which would count a wait for that tick as the service's time
  const started = process.hrtime.bigint();
  let last = started;
  const result = await autocannon({
    url: origin,
    connections: CONNECTIONS,
    amount,
    setupClient: (client) =>
      client.on('response', (_status: number, _bytes: number, ms: number) => {
        latencies.push(ms);
        last = process.hrtime.bigint();
      }),
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const { path: p, params } = paramsFor(n++);
          return {
            ...req,
            path: p,
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, origin + p, params),
            },
            body: new URLSearchParams(params).toString(),
          };
        },
        onResponse: (_status, body) => {
          if (!expect.test(body)) unexpected++;
        },
      },
    ],
  });
  return { total: result.requests.total, seconds: Number(last - started) / 1e9, non2xx: result.non2xx, errors: result.errors, unexpected };
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

/** Redis's own CPU time so far (user + system, µs): what the store costs the machine beside the service */
async function redisCpuUs(url: string): Promise<number> {
  const r = new Redis(url);
  try {
    const info = await r.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return Math.round((field('used_cpu_user') + field('used_cpu_sys')) * 1e6);
  } finally {
    r.disconnect();
  }
}

/**
 * Round trips, the client's view: what the service's Redis client sent, one command or one
 * script (EVALSHA) each, a MULTI…EXEC block once. Redis's own counts cannot say it: INFO
 * commandstats and total_commands_processed both count the commands a script runs inside it,
 * and nothing on the server tells those from commands a client sent. The scripts the client
 * sent are checked against Redis's count of EVALSHA and EVAL (`scripts` both ways).
 */
interface ClientCounts {
  roundTrips: number;
  scripts: number;
}

/** `embedded`: the service on its embedded store (one instance, no Redis: REDIS_URL unset) */
type ServerKind = 'service' | 'embedded' | 'bare' | 'signed' | 'stored';

/**
 * One new call's write as the service made it (its createAll: the records it created and the
 * ops it ran with them), taken from the service's run for the store floor to repeat per request.
 */
interface SampleWrite {
  callSid: string;
  records: { key: string; value: string; ttlSeconds: number }[];
  ops: Record<string, string | number>[];
}

/** each server runs in a child process, so the load generator does not share its event loop */
async function serve(
  kind: ServerKind,
  redisUrl: string,
  sample?: SampleWrite,
): Promise<{
  url: string;
  cpu: () => Promise<number>;
  sent: () => Promise<ClientCounts>;
  sample: () => Promise<SampleWrite | null>;
  stop: () => Promise<void>;
}> {
  const child = fork(__filename, ['--serve', kind, redisUrl, ...(sample ? [JSON.stringify(sample)] : [])], {
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
    sent: () =>
      new Promise<ClientCounts>((resolve) => {
        child.once('message', (m) => resolve(JSON.parse(String(m)) as ClientCounts));
        child.send('sent');
      }),
    sample: () =>
      new Promise<SampleWrite | null>((resolve) => {
        child.once('message', (m) => resolve(JSON.parse(String(m)) as SampleWrite | null));
        child.send('sample');
      }),
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function startServer(kind: ServerKind, redisUrl: string, sample?: SampleWrite): Promise<string> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (kind === 'bare' || kind === 'signed' || kind === 'stored') {
    const bare = Fastify();
    await bare.register(formbody);
    const twiml = new twilio.twiml.VoiceResponse();
    twiml.say('Welcome.');
    const body = twiml.toString();
    if (kind === 'bare') bare.post('/twilio/voice', async (_req, reply) => reply.type('text/xml').send(body));
    else {
      const { checkSignature, signedUrl } = fromBuild<typeof import('../src/twilio/signature')>('src/twilio/signature');
      const { fixedSecurityHeaders } = fromBuild<typeof import('../src/security-headers')>('src/security-headers');
      const headers = await fixedSecurityHeaders();
      const write = kind === 'stored' ? await sampledWrite(redisUrl, sample) : undefined;
      bare.post('/twilio/voice', async (req, reply) => {
        reply.headers(headers);
        const params = req.body as Record<string, string>;
        const verdict = checkSignature(AUTH_TOKEN, req.headers['x-twilio-signature'], signedUrl(url, req.url), params);
        if (!verdict.ok) return reply.code(verdict.status).send();
        if (write && !(await write(params.CallSid))) return reply.code(500).send();
        return reply.type('text/xml').send(body);
      });
    }
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
    ...(kind === 'embedded' ? {} : { REDIS_URL: redisUrl }),
    LOG_LEVEL: 'warn',
  });
  const app = await buildApp(config, { logStream: new Writable({ write: (_c, _e, cb) => cb() }), keyPrefix: `twbench:${Date.now()}:` });
  if (kind === 'service') {
    countSent((app.services.store as unknown as { client: Redis }).client);
    keepSample(app.services.store);
  }
  await app.listen({ port, host: '127.0.0.1' });
  return url;
}

const FLOOR_PREFIX = 'floor:';

/** the service's first new-call write, for the store floor (SampleWrite) */
let sampled: SampleWrite | null = null;

function keepSample(store: { createAll: (records: SampleWrite['records'], ops: never[]) => Promise<unknown> }): void {
  const createAll = store.createAll.bind(store);
  store.createAll = (records, ops) => {
    const callSid = /CA[0-9a-f]{32}/.exec(records.map((r) => r.key).join(' '))?.[0];
    if (!sampled && callSid) sampled = { callSid, records, ops: ops as unknown as SampleWrite['ops'] };
    return createAll(records, ops);
  };
}

/** what a sampled write carries: its keys, values and members, in bytes */
function writeBytes(sample: SampleWrite): number {
  const strings = [...sample.records.flatMap((r) => [r.key, r.value]), ...sample.ops.flatMap((o) => Object.values(o).filter((v) => typeof v === 'string'))];
  return strings.reduce((n, t) => n + Buffer.byteLength(t), 0);
}

/**
 * The store floor's write: per request, the sampled call's createAll again, through the
 * service's own store client, its CallSid (in keys, values and members) replaced by the
 * request's, and a record key without it (the replay record's, named by a digest) made the
 * request's own. The text is split once, so a request only joins it: the floor does no work
 * of the service's but the write itself.
 */
async function sampledWrite(redisUrl: string, sample: SampleWrite | undefined): Promise<(callSid: string) => Promise<boolean>> {
  if (!sample) throw new Error('the store floor needs the sample of a service write');
  const { RedisStore } = fromBuild<typeof import('../src/store')>('src/store');
  const store = new RedisStore(redisUrl);
  await store.connect();
  countSent(store.client);
  const parts = (text: string) => text.split(sample.callSid);
  // keys of their own: the load generator's CallSids are the service run's again
  const key = (k: string) => parts(FLOOR_PREFIX + k);
  const records = sample.records.map((r) => ({ key: key(r.key), own: !r.key.includes(sample.callSid), value: parts(r.value), ttlSeconds: r.ttlSeconds }));
  const ops = sample.ops.map((o) => Object.entries(o).map(([k, v]) => [k, typeof v !== 'string' ? v : k === 'key' ? key(v) : parts(v)] as const));
  return async (callSid) => {
    const res = await store.createAll(
      records.map((r) => ({ key: r.key.join(callSid) + (r.own ? `:${callSid}` : ''), value: r.value.join(callSid), ttlSeconds: r.ttlSeconds })),
      ops.map((o) => Object.fromEntries(o.map(([k, v]) => [k, typeof v === 'number' ? v : v.join(callSid)]))) as never[],
    );
    return res.created;
  };
}

/** what the service's client sent so far (ClientCounts) */
const sent: ClientCounts = { roundTrips: 0, scripts: 0 };

/**
 * Counts what `client` sends: every command passes through Redis#sendCommand once, whether
 * alone, auto-pipelined with other requests' commands, or queued in a MULTI (ioredis 5).
 */
function countSent(client: Redis): void {
  const send = client.sendCommand.bind(client);
  let inMulti = false;
  client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    const name = command.name.toLowerCase();
    if (name === 'multi') inMulti = true;
    else if (name === 'exec' || name === 'discard') inMulti = false;
    if (!inMulti) sent.roundTrips++;
    if (name === 'evalsha' || name === 'eval') sent.scripts++;
    return (send as (...a: unknown[]) => unknown)(command, ...rest);
  }) as Redis['sendCommand'];
}

/**
 * autocannon against one server, with the server's CPU time, Redis's and the load generator's
 * (this process: autocannon and the signing of every request) and Redis round trips over the
 * run; stops the server
 */
async function load(server: Awaited<ReturnType<typeof serve>>, redisUrl: string) {
  try {
    const cpuBefore = await server.cpu();
    const sentBefore = await server.sent();
    const redisBefore = await redisCpuUs(redisUrl);
    const ownBefore = process.cpuUsage();
    const result = await cannon(`${server.url}/twilio/voice`, `${server.url}/twilio/voice`);
    const own = process.cpuUsage(ownBefore);
    const redisUs = (await redisCpuUs(redisUrl)) - redisBefore;
    const roundTrips = (await server.sent()).roundTrips - sentBefore.roundTrips;
    const sample = await server.sample();
    return { ...result, cpuUs: (await server.cpu()) - cpuBefore, roundTrips, redisUs, loadGenUs: own.user + own.system, sample };
  } finally {
    await server.stop();
  }
}

/**
 * Gathers, each for a call of its own: per batch, GATHER_BATCH calls (and two per connection
 * more, as autocannon may build a request it never sends) created through /twilio/voice
 * unmeasured, then one gather for each measured: the server's CPU, Redis's command counts and
 * the client's round trips only over the gathers. Stops the server.
 */
async function loadGathers(server: Awaited<ReturnType<typeof serve>>, redisUrl: string) {
  const gatherSid = (n: number) => 'CA' + 'f' + n.toString(16).padStart(31, '0');
  const latencies: number[] = [];
  const sum = { total: 0, seconds: 0, non2xx: 0, unexpected: 0, cpuUs: 0, commands: 0, scripts: 0, roundTrips: 0, clientScripts: 0 };
  try {
    // the first batch warms the service up, unmeasured: the figures are of the GATHER_CALLS after it
    for (let first = 0; first < GATHER_BATCH + GATHER_CALLS; first += GATHER_BATCH) {
      const measured = first >= GATHER_BATCH;
      const amount = measured ? Math.min(GATHER_BATCH, GATHER_BATCH + GATHER_CALLS - first) : GATHER_BATCH;
      const made = amount + 2 * CONNECTIONS;
      const setup = await cannonEach(server.url, made, (i) => ({ path: '/twilio/voice', params: voiceParams(gatherSid(first + i)) }), /<Gather/);
      sum.unexpected += setup.non2xx + setup.errors + setup.unexpected + Math.max(0, made - setup.total);
      const cpu0 = await server.cpu();
      const redis0 = await redisCommands(redisUrl);
      const sent0 = await server.sent();
      const r = await cannonEach(
        server.url,
        amount,
        (i) => ({
          path: '/twilio/gather/1/1',
          // past the calls made for this batch: an unknown call, answered otherwise, counted
          params: { ...voiceParams(gatherSid(first + Math.min(i, made))), CallStatus: 'in-progress', Digits: GATHER_DIGITS },
        }),
        /<Dial/,
        measured ? latencies : [],
      );
      const sent1 = await server.sent();
      const redis1 = await redisCommands(redisUrl);
      const cpu1 = await server.cpu();
      sum.unexpected += r.non2xx + r.errors + r.unexpected;
      if (!measured) continue;
      sum.cpuUs += cpu1 - cpu0;
      sum.total += r.total;
      sum.seconds += r.seconds;
      sum.non2xx += r.non2xx;
      sum.commands += redis1.commands - redis0.commands;
      sum.scripts += redis1.scripts - redis0.scripts;
      sum.roundTrips += sent1.roundTrips - sent0.roundTrips;
      sum.clientScripts += sent1.scripts - sent0.scripts;
    }
  } finally {
    await server.stop();
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return { ...sum, p50: Number(pct(50).toFixed(1)), p99: Number(pct(99).toFixed(1)) };
}

export async function runWebhookBench(): Promise<Record<string, number | string>> {
  productionBuild();
  const redis = await benchRedis();
  try {
    const before = await redisCommands(redis.url);
    const service = await load(await serve('service', redis.url), redis.url);
    const after = await redisCommands(redis.url);
    const gathers = await loadGathers(await serve('service', redis.url), redis.url);
    const baseline = await load(await serve('bare', redis.url), redis.url);
    const floor = await load(await serve('signed', redis.url), redis.url);
    if (!service.sample) throw new Error('the service made no new-call write to sample');
    const stored = await load(await serve('stored', redis.url, service.sample), redis.url);
    const embedded = await load(await serve('embedded', redis.url), redis.url);
    const perGather = (n: number) => Number((n / gathers.total).toFixed(2));
    return {
      'webhook: service req/s': Math.round(service.rps),
      'webhook: service p50 ms': service.p50,
      'webhook: service p99 ms': service.p99,
      'webhook: service non-2xx': service.non2xx,
      'webhook: service CPU µs per call': Math.round(service.cpuUs / service.total),
      'webhook: redis commands per call': Number(((after.commands - before.commands) / service.total).toFixed(1)),
      'webhook: redis scripts per call': Number(((after.scripts - before.scripts) / service.total).toFixed(1)),
      'webhook: redis round trips per call': Number((service.roundTrips / service.total).toFixed(2)),
      // the machine's other costs of a call: Redis running its script, and the load generator
      // making, signing and reading the request (the bare route's requests cost it as much)
      'webhook: redis CPU µs per call': Math.round(service.redisUs / service.total),
      'webhook: load gen CPU µs per call': Math.round(service.loadGenUs / service.total),
      'webhook: cores busy (all three)': Number(((service.cpuUs + service.redisUs + service.loadGenUs) / (DURATION_S * 1e6)).toFixed(2)),
      'webhook: bare fastify req/s': Math.round(baseline.rps),
      'webhook: bare fastify p50 ms': baseline.p50,
      'webhook: bare fastify p99 ms': baseline.p99,
      'webhook: bare fastify CPU µs per call': Math.round(baseline.cpuUs / baseline.total),
      'webhook: bare load gen CPU µs per call': Math.round(baseline.loadGenUs / baseline.total),
      'webhook: bare cores busy (both)': Number(((baseline.cpuUs + baseline.loadGenUs) / (DURATION_S * 1e6)).toFixed(2)),
      'webhook: ratio service/bare': Number((service.rps / baseline.rps).toFixed(3)),
      'webhook: signed floor req/s': Math.round(floor.rps),
      'webhook: signed floor CPU µs per call': Math.round(floor.cpuUs / floor.total),
      'webhook: signed floor non-2xx': floor.non2xx,
      'webhook: ratio signed floor/bare': Number((floor.rps / baseline.rps).toFixed(3)),
      // the signed floor plus the one store write a new call needs (the service's own, sampled):
      // the most a first webhook that keeps its one round trip can reach here
      'webhook: store floor write (records + ops, bytes)': `${service.sample.records.length} + ${service.sample.ops.length}, ${writeBytes(service.sample)}`,
      'webhook: store floor req/s': Math.round(stored.rps),
      'webhook: store floor CPU µs per call': Math.round(stored.cpuUs / stored.total),
      'webhook: store floor non-2xx': stored.non2xx,
      'webhook: store floor redis CPU µs per call': Math.round(stored.redisUs / stored.total),
      'webhook: ratio store floor/bare': Number((stored.rps / baseline.rps).toFixed(3)),
      'webhook: ratio service/store floor': Number((service.rps / stored.rps).toFixed(3)),
      // the same service on its embedded store (a single instance, REDIS_URL unset): its own
      // work without a round trip, what a first webhook costs where no write leaves the process
      'webhook: embedded store req/s': Math.round(embedded.rps),
      'webhook: embedded store CPU µs per call': Math.round(embedded.cpuUs / embedded.total),
      'webhook: embedded store non-2xx': embedded.non2xx,
      'webhook: ratio embedded store/bare': Number((embedded.rps / baseline.rps).toFixed(3)),
      'gather: service req/s': Math.round(gathers.total / gathers.seconds),
      'gather: service p50 ms': gathers.p50,
      'gather: service p99 ms': gathers.p99,
      'gather: service non-2xx': gathers.non2xx,
      // a new call not answered with its <Gather>, or a gather not with the flow's <Dial> (a
      // replay, an unknown call, the safe apology): then the figures are not of valid gathers
      'gather: answers not as expected': gathers.unexpected,
      'gather: service CPU µs per gather': Math.round(gathers.cpuUs / gathers.total),
      'gather: redis commands per gather': perGather(gathers.commands),
      'gather: redis scripts per gather': perGather(gathers.scripts),
      'gather: redis round trips per gather': perGather(gathers.roundTrips),
      // equal to the scripts line unless something else ran scripts on this Redis meanwhile
      'gather: scripts the client sent': perGather(gathers.clientScripts),
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
    } else if (m === 'sent') process.send?.(JSON.stringify(sent));
    else if (m === 'sample') process.send?.(JSON.stringify(sampled));
  });
  const sample = process.argv[5] ? (JSON.parse(process.argv[5]) as SampleWrite) : undefined;
  startServer(process.argv[3] as ServerKind, process.argv[4], sample).then((url) => process.send?.(url));
} else if (require.main === module) {
  runWebhookBench().then(
    (r) => {
      for (const [k, v] of Object.entries(r)) process.stdout.write(`${k.padEnd(38)} ${v}\n`);
    },
    (e) => {
      process.stderr.write(`${(e as Error).stack}\n`);
      process.exit(1);
    },
  );
}
