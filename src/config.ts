/**
 * The service's whole configuration: read from the environment (and an optional .env file) in
 * this one file, parsed once with zod, then frozen. A bad or missing required value stops the
 * process with one line naming the variable (see server.ts).
 */
import { z } from 'zod';

const url = (name: string) =>
  z
    .string({ required_error: `${name} is required` })
    .url(`${name} must be an absolute URL`)
    .transform((u) => u.replace(/\/+$/, ''));

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: url('PUBLIC_URL').optional(),
  TWILIO_ACCOUNT_SID: z
    .string({ required_error: 'TWILIO_ACCOUNT_SID is required' })
    .regex(/^AC[0-9a-fA-F]{32}$/, 'TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits'),
  TWILIO_AUTH_TOKEN: z.string({ required_error: 'TWILIO_AUTH_TOKEN is required' }).min(16, 'TWILIO_AUTH_TOKEN is too short'),
  TWILIO_API_BASE_URL: url('TWILIO_API_BASE_URL').default('https://api.twilio.com'),
  MEDIA_PUBLIC_URL: url('MEDIA_PUBLIC_URL').optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'REDIS_URL must start with redis:// or rediss://')
    .optional(),
  VAULT_KEYS: z.string({ required_error: 'VAULT_KEYS is required' }).min(1, 'VAULT_KEYS is required'),
  VAULT_TTL_SECONDS: z.coerce.number().int().min(1).max(86400 * 7).default(900),
  AGENT_JWT_SECRET: z.string({ required_error: 'AGENT_JWT_SECRET is required' }).min(32, 'AGENT_JWT_SECRET must be at least 32 characters'),
  // optional: unset, the key is derived from AGENT_JWT_SECRET (app.ts), which every instance shares
  INSTANCE_MESSAGE_KEY: z
    .string()
    .transform((v) => v.split(',').map((k) => k.trim()))
    .refine((ks) => ks.every((k) => k.length >= 32), 'INSTANCE_MESSAGE_KEY: every key must be at least 32 characters (comma-separated, the first signs)')
    .optional(),
  FLOWS_DIR: z.string().min(1).default('config/flows'),
  PROCESSORS_FILE: z.string().min(1).default('config/processors.yaml'),
  MASK_LOOKAHEAD_MS: z.coerce
    .number()
    .int()
    .refine((v) => v >= 20 && v <= 200 && v % 5 === 0, 'MASK_LOOKAHEAD_MS must be a multiple of 5 from 20 to 200')
    .default(40),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  INSTANCE_ID: z.string().min(1).optional(),
});

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly publicUrl: string;
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
  /** every process-scoped secret the environment holds, by name, for processors' `secretEnv` */
  readonly secrets: Readonly<Record<string, string>>;
}

export class ConfigError extends Error {
  readonly code = 'TW_ERR_CONFIG_INVALID';
  constructor(readonly variable: string, message: string) {
    super(message);
  }
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
  const publicUrl = e.PUBLIC_URL ?? `http://localhost:${e.PORT}`;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    publicUrl,
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
    secrets: Object.freeze({ ...clean }),
  });
}
