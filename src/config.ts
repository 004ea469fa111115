/**
 * The service's whole configuration: read from the environment (and an optional .env file) in
 * this one file, parsed once with zod, then frozen. A bad or missing required value stops the
 * process with one line naming the variable (see server.ts). The rules about the service's own
 * secrets (which variables hold one, which may not share a text, which are weak) are
 * config-secrets.ts's, as processors/config.ts applies them too.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { coreSecretTexts, secret, sharedKeyIssues } from './config-secrets';
import { ConfigError } from './errors';
import { ACCOUNT_SID } from './sids';

const url = (name: string) =>
  z
    .string({ required_error: `${name} is required` })
    .url(`${name} must be an absolute URL`)
    .transform((u) => u.replace(/\/+$/, ''));

/** an http(s) URL: the REST client speaks HTTP, so ftp:// or file:// would only fail at the first pause */
const httpUrl = (name: string) => url(name).refine((u) => /^https?:\/\//i.test(u), `${name} must be an http:// or https:// URL`);

/**
 * PUBLIC_URL and MEDIA_PUBLIC_URL: the base every URL Twilio is given and every signature checked
 * is made from, this text with `/twilio/…` or `/media/…` put after it. A query or a fragment
 * gives Twilio URLs whose signature never holds, and credentials would be written into every
 * TwiML document: refused, said without the value, which may hold a password. A path is taken
 * (`https://host/tonewall`, behind a proxy that strips it, since the routes are served at the
 * root) and warned at start (`publicUrlPath`), as without such a proxy nothing Twilio asks for
 * is served.
 */
const origin = (name: string, schemes: readonly string[]) =>
  url(name).superRefine((u, ctx) => {
    const p = new URL(u);
    if (!schemes.includes(p.protocol)) ctx.addIssue({ code: 'custom', message: `${name} must start with ${schemes.map((s) => `${s}//`).join(' or ')}` });
    else if (p.username || p.password) ctx.addIssue({ code: 'custom', message: `${name} must hold no user name or password` });
    else if (p.search || p.hash || u.endsWith('?') || u.endsWith('#'))
      ctx.addIssue({
        code: 'custom',
        message: `${name} must be an origin (https://host[:port]), with no query or fragment: the service puts /twilio/… and /media/… after it`,
      });
  });

/** what TRUST_PROXY may name: addresses and ranges the proxy connects from, never "everyone" */
function isProxyAddress(t: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(t)) return true;
  const [ip, bits, extra] = t.split('/');
  if (extra !== undefined || isIP(ip) === 0) return false;
  if (bits === undefined) return true;
  const max = isIP(ip) === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}

/** METRICS_PORT when the operator leaves it unset: Prometheus's conventional port for an exporter */
export const DEFAULT_METRICS_PORT = 9464;

/**
 * A stopping instance's drain on Redis, by default: a load balancer polling /readyz every second
 * or two sees it fail within this, and a Kubernetes endpoint's removal reaches the proxies in about
 * as long. The drain and the close after it keep within the contract's 10 s (server.ts).
 */
export const DEFAULT_SHUTDOWN_DRAIN_MS = 3000;
/** the longest drain: the close after it keeps 2 s of the 10 s a stop may take */
export const MAX_SHUTDOWN_DRAIN_MS = 8000;

/** hosts a capture's return URL may reach over plain http: this machine only (tests, a local app) */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** one CAPTURE_RETURN_URLS entry: an https origin or URL prefix (http for loopback only), no query or fragment */
export function returnUrlEntryProblem(entry: string): string | undefined {
  let u: URL;
  try {
    u = new URL(entry);
  } catch {
    return `"${entry}" is not an absolute URL`;
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname))) return `"${entry}" must be https (http only for localhost)`;
  if (u.username || u.password || u.search || u.hash) return `"${entry}" must hold no credentials, query or fragment`;
  return undefined;
}

/** PCI DSS 8.2.8: an agent panel idle this long (15 minutes) signs out; the default, and the most AGENT_IDLE_TIMEOUT_SECONDS takes */
export const MAX_AGENT_IDLE_SECONDS = 15 * 60;
/**
 * A key ring of the service's own: `key[,key…]`, each 32+ characters, none given twice (a
 * rotation that added no key), the first `firstDoes` (signs, seals, indexes new calls), every one
 * verifies or finds what it did. Unset: the variable's derived default (app.ts).
 */
const keyRing = (name: string, firstDoes: string) =>
  z
    .string()
    .transform((v) => v.split(',').map((k) => k.trim()))
    .refine((ks) => ks.every((k) => k.length >= 32), `${name}: every key must be at least 32 characters (comma-separated, ${firstDoes})`)
    .refine((ks) => new Set(ks).size === ks.length, `${name}: a key is given twice`)
    .optional();

const IDLE_RANGE = `AGENT_IDLE_TIMEOUT_SECONDS must be a whole number of seconds from 1 to ${MAX_AGENT_IDLE_SECONDS} (PCI DSS 8.2.8: 15 minutes at most)`;

const schema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    PUBLIC_URL: origin('PUBLIC_URL', ['https:', 'http:']).optional(),
    // it goes into every REST path: AC and letters or digits, nothing else (sids.ts)
    TWILIO_ACCOUNT_SID: z
      .string({ required_error: 'TWILIO_ACCOUNT_SID is required' })
      .regex(ACCOUNT_SID, 'TWILIO_ACCOUNT_SID must be AC followed by letters or digits'),
    // any text, as the contract takes it; one shorter than WEAK_SECRET_CHARS is warned at start (config-secrets.ts weakSecrets)
    TWILIO_AUTH_TOKEN: z.string({ required_error: 'TWILIO_AUTH_TOKEN is required' }).min(1, 'TWILIO_AUTH_TOKEN is required'),
    TWILIO_API_BASE_URL: httpUrl('TWILIO_API_BASE_URL').default('https://api.twilio.com'),
    MEDIA_PUBLIC_URL: origin('MEDIA_PUBLIC_URL', ['https:', 'http:', 'wss:', 'ws:']).optional(),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'REDIS_URL must start with redis:// or rediss://')
      .optional(),
    VAULT_KEYS: z.string({ required_error: 'VAULT_KEYS is required' }).min(1, 'VAULT_KEYS is required'),
    VAULT_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(86400 * 7)
      .default(900),
    AGENT_JWT_SECRET: z.string({ required_error: 'AGENT_JWT_SECRET is required' }).min(1, 'AGENT_JWT_SECRET is required'),
    // optional: unset, the key is derived from AGENT_JWT_SECRET (app.ts), which every instance shares
    INSTANCE_MESSAGE_KEY: keyRing('INSTANCE_MESSAGE_KEY', 'the first signs'),
    FLOWS_DIR: z.string().min(1).default('config/flows'),
    PROCESSORS_FILE: z.string().min(1).default('config/processors.yaml'),
    MASK_LOOKAHEAD_MS: z.coerce
      .number()
      .int()
      .refine((v) => v >= 20 && v <= 200 && v % 5 === 0, 'MASK_LOOKAHEAD_MS must be a multiple of 5 from 20 to 200')
      .default(40),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    INSTANCE_ID: z.string().min(1).optional(),
    // issue 11: keys that must not be shared with the JWT secret, limits, and the operations surface
    // a ring, as AUDIT_KEY: comma-separated, the first indexes new calls, every one finds the callers it indexed (app.ts)
    SUBJECT_KEY: keyRing('SUBJECT_KEY', 'the first indexes new calls'),
    // a ring, as INSTANCE_MESSAGE_KEY: comma-separated, the first seals, every one verifies (audit/keys.ts)
    AUDIT_KEY: keyRing('AUDIT_KEY', 'the first seals'),
    AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(400),
    AGENT_JWT_MAX_LIFETIME_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(7 * 86400)
      .default(12 * 3600),
    AGENT_JWT_AUDIENCE: z.string().min(1).max(256).optional(),
    AGENT_JWT_ISSUER: z.string().min(1).max(256).optional(),
    // PCI DSS 8.2.8: a session idle more than 15 minutes must ask for the token again; shorter is the operator's choice, longer is not taken
    AGENT_IDLE_TIMEOUT_SECONDS: z.coerce
      .number({ invalid_type_error: IDLE_RANGE })
      .int(IDLE_RANGE)
      .min(1, IDLE_RANGE)
      .max(MAX_AGENT_IDLE_SECONDS, IDLE_RANGE)
      .default(MAX_AGENT_IDLE_SECONDS),
    // unset: agents/socket-limits.ts MAX_SOCKETS_PER_AGENT (8), kept there with its reasons
    AGENT_SOCKETS_PER_AGENT: z.coerce.number().int().min(1).max(1024).optional(),
    // no zod default: whether the operator set it decides what a busy port does (ops/metrics-server.ts)
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    METRICS_HOST: z.string().min(1).optional(),
    METRICS_TOKEN: secret('METRICS_TOKEN').optional(),
    TRUST_PROXY: z
      .string()
      .refine(
        (v) => v.split(',').every((t) => isProxyAddress(t.trim())),
        'TRUST_PROXY must be a comma-separated list of IP addresses or CIDR ranges (or loopback, linklocal, uniquelocal)',
      )
      .optional(),
    RATE_LIMIT_MAX: z.coerce.number().int().min(1).max(1_000_000).default(600),
    // no zod default: unset, it depends on the store (shutdownDrainMs below)
    SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(MAX_SHUTDOWN_DRAIN_MS).optional(),
    // issue 13: drop-in capture (twilio/capture-route.ts): where a capture may return, and the key that signs its result
    CAPTURE_RETURN_URLS: z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((u) => u.trim())
          .filter((u) => u.length > 0),
      )
      .superRefine((us, ctx) => {
        for (const u of us) {
          const problem = returnUrlEntryProblem(u);
          if (problem) ctx.addIssue({ code: 'custom', message: `CAPTURE_RETURN_URLS: ${problem}` });
        }
      })
      .optional(),
    CAPTURE_RESULT_SECRET: secret('CAPTURE_RESULT_SECRET').optional(),
    // an erasure deletes the caller's recordings at Twilio only when the operator says so: some must keep them by law
    ERASE_RECORDINGS: z
      .enum(['true', 'false'], { errorMap: () => ({ message: 'ERASE_RECORDINGS must be true or false' }) })
      .default('false')
      .transform((v) => v === 'true'),
  })
  // a key shared with another purpose is only as safe as that purpose's weakest holder (config-secrets.ts)
  .superRefine((e, ctx) => {
    for (const { variable, message } of sharedKeyIssues(e)) ctx.addIssue({ code: 'custom', path: [variable], message });
  });

/** every variable the service reads: what README, docs/contract.md and docker-compose.yml must each name */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(schema.innerType().shape));

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly publicUrl: string;
  /** PUBLIC_URL left unset: publicUrl is `http://localhost:PORT`, which no request of Twilio's is signed for (warned at start) */
  readonly publicUrlDefaulted: boolean;
  readonly mediaPublicUrl: string;
  readonly twilio: { readonly accountSid: string; readonly authToken: string; readonly apiBaseUrl: string };
  readonly redisUrl?: string;
  readonly vaultKeys: string;
  readonly vaultTtlSeconds: number;
  readonly agentJwtSecret: string;
  /**
   * Keys that sign messages between instances (store/signed-messages.ts): the first signs, all
   * verify. Unset: one key derived from AGENT_JWT_SECRET.
   */
  readonly instanceMessageKeys?: readonly string[];
  readonly flowsDir: string;
  readonly processorsFile: string;
  readonly maskLookaheadMs: number;
  readonly logLevel: string;
  readonly instanceId: string;
  /**
   * HMAC keys of the caller index (app.ts): the first indexes new calls, every one is looked up by
   * access and erasure, and so is the key derived from AGENT_JWT_SECRET, which the index had
   * without them. Unset: that derived key alone (the app warns).
   */
  readonly subjectKeys?: readonly string[];
  /**
   * HMAC keys of audit entries (audit/keys.ts): the first seals, each verifies the entries it
   * sealed. Unset: derived from the VAULT_KEYS keys, the first sealing (the app warns).
   */
  readonly auditKeys?: readonly string[];
  readonly auditRetentionDays: number;
  readonly jwt: { readonly maxLifetimeSeconds: number; readonly audience?: string; readonly issuer?: string };
  /** how long the agent panel waits with no keyboard or pointer input before it signs itself out (AGENT_IDLE_TIMEOUT_SECONDS, 1 to 900) */
  readonly agentIdleTimeoutSeconds: number;
  /** open agent sockets one token's `sub` may hold on one instance (AGENT_SOCKETS_PER_AGENT; unset: socket-limits.ts's default) */
  readonly agentSocketsPerAgent?: number;
  /**
   * /metrics listens on `port` (0: a free port), unset: DEFAULT_METRICS_PORT, where a busy port is
   * warned and the service runs on without the listener. `token` (METRICS_TOKEN): when set, /metrics
   * answers only that bearer token, on the listener and on the public port (served there only then)
   */
  readonly metrics: { readonly port?: number; readonly host: string; readonly token?: string };
  /** addresses whose X-Forwarded-For is believed; false: the peer address is the client */
  readonly trustProxy: string | false;
  /** requests per minute per client IP on the agent API, panel and admin routes */
  readonly rateLimitMax: number;
  /**
   * How long a SIGTERM'd instance goes on answering, not ready, before it closes its port
   * (SHUTDOWN_DRAIN_MS): its load balancer's time to see /readyz fail, while the calls that still
   * reach it are passed on. Unset: DEFAULT_SHUTDOWN_DRAIN_MS on Redis, 0 on the embedded store,
   * where no other instance could take a call.
   */
  readonly shutdownDrainMs: number;
  /**
   * ERASE_RECORDINGS: an erasure of a caller deletes at Twilio the recordings their calls' records
   * knew of (privacy/service.ts); false, the receipt names them and they are left
   */
  readonly eraseRecordings: boolean;
  /**
   * Drop-in capture (issue 13): the URL prefixes a capture may return the call to (an entry
   * without a path allows its whole origin), and the HMAC key of the result. Without a secret
   * the capture route refuses every call.
   */
  readonly capture: { readonly returnUrls: readonly string[]; readonly resultSecret?: string };
  /** every process-scoped secret the environment holds, by name, for processors' `secretEnv` */
  readonly secrets: Readonly<Record<string, string>>;
}

export { ConfigError };

/**
 * The origins Twilio reaches in plain text: PUBLIC_URL or MEDIA_PUBLIC_URL over http (or ws) to a
 * host other than this machine. The keys a caller presses cross the network in them (<Gather>
 * actions carry Digits, media streams carry the audio), PCI DSS asks for strong cryptography
 * there, and Twilio refuses a <Gather> with an http action on a PCI Mode account (error 13337).
 * Allowed, as the contract allows them (a test rig, a private network), but said at start.
 */
export function plainTextOrigins(config: Pick<Config, 'publicUrl' | 'mediaPublicUrl'>): ('PUBLIC_URL' | 'MEDIA_PUBLIC_URL')[] {
  const plain = (origin: string) => {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'ws:') && !LOOPBACK_HOSTS.has(u.hostname);
  };
  return [...(plain(config.publicUrl) ? (['PUBLIC_URL'] as const) : []), ...(plain(config.mediaPublicUrl) ? (['MEDIA_PUBLIC_URL'] as const) : [])];
}

/**
 * The origins given with a path (`https://host/tonewall`): the routes are served at the root, so
 * only a proxy that strips the path serves what Twilio is sent to. Taken, said at start.
 */
export function originsWithPath(config: Pick<Config, 'publicUrl' | 'mediaPublicUrl'>): ('PUBLIC_URL' | 'MEDIA_PUBLIC_URL')[] {
  const pathed = (origin: string) => new URL(origin).pathname !== '/';
  return [...(pathed(config.publicUrl) ? (['PUBLIC_URL'] as const) : []), ...(pathed(config.mediaPublicUrl) ? (['MEDIA_PUBLIC_URL'] as const) : [])];
}

/** Parses an environment (process.env in production; a plain object in tests). Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') clean[k] = v;
  const parsed = schema.safeParse(clean);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue.path[0] ?? 'environment');
    const message = issue.message === 'Required' ? `${variable} is required` : issue.message;
    throw new ConfigError(variable, message.startsWith(variable) ? message : `${variable}: ${message}`);
  }
  const e = parsed.data;
  // a scraper's configuration holds this token and every scrape sends it, over plain HTTP on the
  // metrics listener: a party not trusted with the service's keys may hold no text of one
  if (e.METRICS_TOKEN !== undefined) {
    const shared = coreSecretTexts(clean).find((s) => s.where !== 'METRICS_TOKEN' && s.text === e.METRICS_TOKEN);
    if (shared) throw new ConfigError('METRICS_TOKEN', `METRICS_TOKEN must not be the same text as ${shared.where}`);
  }
  const publicUrl = e.PUBLIC_URL ?? `http://localhost:${e.PORT}`;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    publicUrlDefaulted: e.PUBLIC_URL === undefined,
    mediaPublicUrl: e.MEDIA_PUBLIC_URL ?? publicUrl,
    twilio: Object.freeze({ accountSid: e.TWILIO_ACCOUNT_SID, authToken: e.TWILIO_AUTH_TOKEN, apiBaseUrl: e.TWILIO_API_BASE_URL }),
    redisUrl: e.REDIS_URL,
    vaultKeys: e.VAULT_KEYS,
    vaultTtlSeconds: e.VAULT_TTL_SECONDS,
    agentJwtSecret: e.AGENT_JWT_SECRET,
    ...(e.INSTANCE_MESSAGE_KEY ? { instanceMessageKeys: Object.freeze(e.INSTANCE_MESSAGE_KEY) } : {}),
    flowsDir: e.FLOWS_DIR,
    processorsFile: e.PROCESSORS_FILE,
    maskLookaheadMs: e.MASK_LOOKAHEAD_MS,
    logLevel: e.LOG_LEVEL,
    instanceId: e.INSTANCE_ID ?? `i-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    ...(e.SUBJECT_KEY ? { subjectKeys: Object.freeze(e.SUBJECT_KEY) } : {}),
    ...(e.AUDIT_KEY ? { auditKeys: Object.freeze(e.AUDIT_KEY) } : {}),
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    jwt: Object.freeze({ maxLifetimeSeconds: e.AGENT_JWT_MAX_LIFETIME_SECONDS, audience: e.AGENT_JWT_AUDIENCE, issuer: e.AGENT_JWT_ISSUER }),
    agentIdleTimeoutSeconds: e.AGENT_IDLE_TIMEOUT_SECONDS,
    ...(e.AGENT_SOCKETS_PER_AGENT ? { agentSocketsPerAgent: e.AGENT_SOCKETS_PER_AGENT } : {}),
    metrics: Object.freeze({ port: e.METRICS_PORT, host: e.METRICS_HOST ?? e.HOST, token: e.METRICS_TOKEN }),
    trustProxy: e.TRUST_PROXY
      ? e.TRUST_PROXY.split(',')
          .map((t) => t.trim())
          .join(',')
      : false,
    rateLimitMax: e.RATE_LIMIT_MAX,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS ?? (e.REDIS_URL ? DEFAULT_SHUTDOWN_DRAIN_MS : 0),
    eraseRecordings: e.ERASE_RECORDINGS,
    capture: Object.freeze({ returnUrls: Object.freeze(e.CAPTURE_RETURN_URLS ?? []), resultSecret: e.CAPTURE_RESULT_SECRET }),
    secrets: Object.freeze({ ...clean }),
  });
}
