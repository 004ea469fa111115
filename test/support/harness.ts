/**
 * Builds the real service against the project's Twilio emulator and a real Redis (a private
 * key prefix per harness), listening on a real port, with its log stream captured so that tests
 * can read every line the service wrote.
 */
import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp, type BuildOptions } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { startTwilioEmulator, type TwilioEmulator } from '../../tools/emulator';
import { createTwilioClient } from '../../src/twilio/rest';
import { RedisStore } from '../../src/store';
import { generateKeyRingText } from '../../src/vault';
import { redisUrl, scanRedis, uniquePrefix } from './redis';
import { freePort } from './free-port';
import { writeFlows } from './card-flows';
export { freePort };

export const ACCOUNT_SID = 'AC' + '0123456789abcdef'.repeat(2);
export const AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
export const JWT_SECRET = 'test-agent-jwt-secret-0123456789abcdef-xyz';
export const SUBJECT_KEY = 'test-subject-key-0123456789abcdef-0123456789';
export const AUDIT_KEY = 'test-audit-key-0123456789abcdef-0123456789ab';
export const PAYMENTS_NUMBER = '+15005550006';
export const SUPPORT_NUMBER = '+15005550007';
/** the caller of the calls tests make with signed requests of their own (webhookParams) */
export const WEBHOOK_CALLER = '+15557654321';

/** the form parameters Twilio sends with a webhook of an inbound call in progress to `to`, and `extra` */
export function webhookParams(callSid: string, to: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AccountSid: ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'in-progress',
    Direction: 'inbound',
    From: WEBHOOK_CALLER,
    To: to,
    ...extra,
  };
}

/** every log line the app wrote, as text and parsed */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) this.lines.push(l);
    cb();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface HarnessOptions {
  env?: Record<string, string>;
  /** use Redis (default) or the embedded store */
  store?: 'redis' | 'embedded';
  /** the emulator's media legs keep Twilio's 20 ms cadence, silence between a test's sends (tools/emulator `mediaCadence`, on unless false) */
  mediaCadence?: boolean;
  /** how long Redis has to answer a command (the store's own bound, 500 ms, unless set) */
  storeCommandTimeoutMs?: number;
  /** share an emulator between two service instances */
  emulator?: TwilioEmulator;
  keyPrefix?: string;
  flowsDir?: string;
  /** flows of the test's own (file name, without .yaml, to YAML), in a folder the harness writes and removes on close */
  flows?: Record<string, string>;
  build?: Partial<BuildOptions>;
  /**
   * PUBLIC_URL: an https origin served by a TLS-terminating proxy (the emulator's `origins`) in
   * front of the service's http port, as operators run it (Twilio opens media streams over wss
   * only: error 31922). Without it, an origin of the harness's own (`https://i<port>.tonewall.test`),
   * routed by the emulator; a `publicUrl` given with a shared emulator is the test's to route
   * (several instances behind one PUBLIC_URL: ownMediaUrl).
   */
  publicUrl?: string;
  /** PUBLIC_URL is the service's own http origin, no proxy in front: Twilio reaches it in plain text (and dials no media stream: 31922) */
  plainHttp?: boolean;
  /** the emulated account's PCI Mode (Twilio refuses a <Gather> over http: 13337) */
  pciMode?: boolean;
  /**
   * Several instances behind one PUBLIC_URL (`publicUrl` with a shared `emulator`, whose
   * `routeOrigin` the test points at one of them): each instance's media streams on its own
   * origin (MEDIA_PUBLIC_URL, `https://m<port>.tonewall.test`, routed to its port), as a deployment names each instance's.
   */
  ownMediaUrl?: boolean;
}

export interface Harness {
  app: FastifyInstance;
  config: Config;
  emulator: TwilioEmulator;
  logs: LogCapture;
  /** the service's own http origin: the agent API, health, what a client on the host reaches */
  url: string;
  /** PUBLIC_URL, the https origin Twilio is given: what a webhook is signed for */
  publicUrl: string;
  /** where /metrics answers: its own port (METRICS_PORT), not the public one */
  metricsUrl: string;
  keyPrefix: string;
  redisStore?: RedisStore;
  voiceUrl: string;
  statusUrl: string;
  scan(): ReturnType<typeof scanRedis>;
  close(): Promise<void>;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (opts.emulator && opts.pciMode) throw new Error('pciMode takes the harness its own emulator');
  if (opts.plainHttp && opts.publicUrl) throw new Error('plainHttp is PUBLIC_URL of its own');
  const publicUrl = opts.plainHttp ? url : (opts.publicUrl ?? `https://i${port}.tonewall.test`);
  // this instance's own media origin (MEDIA_PUBLIC_URL), https too: Twilio streams to wss only
  const mediaUrl = opts.ownMediaUrl ? `https://m${port}.tonewall.test` : undefined;
  const ownOrigins: Record<string, string> = {
    ...((opts.emulator && opts.publicUrl) || opts.plainHttp ? {} : { [publicUrl]: url }),
    ...(mediaUrl ? { [mediaUrl]: url } : {}),
  };
  // a shared emulator routes a shared publicUrl to the instance the test points it at (routeOrigin)
  const emulator =
    opts.emulator ??
    (await startTwilioEmulator({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      pciMode: opts.pciMode,
      mediaCadence: opts.mediaCadence,
      origins: ownOrigins,
    }));
  if (opts.emulator) for (const [pub, local] of Object.entries(ownOrigins)) opts.emulator.routeOrigin(pub, local);
  const keyPrefix = opts.keyPrefix ?? uniquePrefix('app');
  const ownFlows = opts.flows ? writeFlows(opts.flows) : undefined;
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: publicUrl,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: emulator.baseUrl,
    VAULT_KEYS: generateKeyRingText('k1'),
    AGENT_JWT_SECRET: JWT_SECRET,
    SUBJECT_KEY: SUBJECT_KEY,
    AUDIT_KEY: AUDIT_KEY,
    // a free port of its own, so harnesses in parallel never collide (see metricsUrl)
    METRICS_PORT: '0',
    // tests poll the API every 20 ms; test/integration/limits.test.ts sets its own small limit
    RATE_LIMIT_MAX: '100000',
    FLOWS_DIR: ownFlows ?? opts.flowsDir ?? path.join(__dirname, '../../config/flows'),
    PROCESSORS_FILE: path.join(__dirname, '../fixtures/no-processors.yaml'),
    LOG_LEVEL: 'debug',
    ...(mediaUrl ? { MEDIA_PUBLIC_URL: mediaUrl } : {}),
    ...(opts.store === 'embedded' ? {} : { REDIS_URL: redisUrl() }),
    ...opts.env,
  });
  const logs = new LogCapture();
  let redisStore: RedisStore | undefined;
  if (opts.store !== 'embedded') {
    redisStore = new RedisStore(config.redisUrl!, { commandTimeoutMs: opts.storeCommandTimeoutMs });
    await redisStore.connect();
  }
  const app = await buildApp(config, { logStream: logs, keyPrefix, store: redisStore, ...opts.build });
  await app.listen({ port, host: '127.0.0.1' });
  const metricsUrl = `${await app.services.metricsServer.listen()}/metrics`;
  return {
    metricsUrl,
    app,
    config,
    emulator,
    logs,
    url,
    publicUrl,
    keyPrefix,
    redisStore,
    // what Twilio is given: the public origin
    voiceUrl: `${publicUrl}/twilio/voice`,
    statusUrl: `${publicUrl}/twilio/status`,
    scan: () => scanRedis(keyPrefix),
    close: async () => {
      // the service first, as in production: closing its streams ends the emulator's calls,
      // whose last callbacks arrive while the service is closing (test/integration/shutdown)
      // a connection left open mid-request would hold the close open until Node's request
      // timeout, past the test hook's: after a grace, every connection goes (the emulator's
      // webhooks cut off by a hangup did that once: tools/emulator/context.ts)
      const force = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
      await redisStore?.close();
      if (!opts.emulator) await emulator.close();
      if (ownFlows) fs.rmSync(ownFlows, { recursive: true, force: true });
    },
  };
}

/** the least environment the service's config takes (no Redis: the embedded store), its flows read from `flowsDir` */
export function flowsDirConfig(flowsDir: string): Config {
  return loadConfig({
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    VAULT_KEYS: generateKeyRingText('k1'),
    AGENT_JWT_SECRET: JWT_SECRET,
    FLOWS_DIR: flowsDir,
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** how long the harness's close waits for the service's connections to end before it ends them */
const CLOSE_GRACE_MS = 3_000;

export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Another application starts a recording on `callSid` over Twilio's REST API (a compliance
 * recorder, say), as the account's own REST client: the recording's SID.
 */
export async function appRecording(h: { emulator: TwilioEmulator }, callSid: string, channels: 'mono' | 'dual' = 'dual'): Promise<string> {
  const rest = createTwilioClient({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBaseUrl: h.emulator.baseUrl });
  return (await rest.calls(callSid).recordings.create({ recordingChannels: channels })).sid;
}

/**
 * A metric's value as `/metrics` shows it (0 before its first count): `labels` as Prometheus
 * prints them, `{where="ivr"}`, or none.
 */
export async function metricValue(
  h: { metricsUrl: string; config?: Pick<Config, 'metrics'> },
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  // a harness with METRICS_TOKEN set scrapes as its Prometheus would
  const token = h.config?.metrics.token;
  const text = await (await fetch(h.metricsUrl, token ? { headers: { authorization: `Bearer ${token}` } } : {})).text();
  const printed = Object.keys(labels).length
    ? `{${Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',')}}`
    : '';
  const line = text.split('\n').find((l) => l.startsWith(`${name}${printed} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** the HTTP status Twilio (the emulator) answers a fetch of the recording with (200, or 404 once deleted) */
export async function fetchedRecording(h: Pick<Harness, 'config'>, recordingSid: string): Promise<number> {
  try {
    await createTwilioClient(h.config.twilio).recordings(recordingSid).fetch();
    return 200;
  } catch (e) {
    return (e as { status: number }).status;
  }
}

/** the caller index's hash of one number on a service built with `env` (SUBJECT_KEY, say), the service closed after */
export async function subjectHashWith(env: Record<string, string>, number = '+15551234567'): Promise<string> {
  const app = await buildApp(loadConfig(env), { logStream: new LogCapture() });
  try {
    return app.services.subjectHash(number);
  } finally {
    await app.close();
  }
}
