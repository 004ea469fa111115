/**
 * `PROCESSORS_FILE` (CONTRACT §6): the downstream processors captured values go to, parsed once
 * at start with zod. An absent file means no processors; a file that does not validate stops
 * the service with the file, the path inside it and the reason; a `secretEnv` (or, for
 * `protocol: twilio-generic-pay`, a `usernameEnv`/`passwordEnv`) that names an unset variable
 * stops it naming that variable (never its text). A `secretEnv` is an HMAC key, taken as any
 * non-empty text (CONTRACT §6: "the secret variable's text as it is"; one shorter than
 * MIN_PROCESSOR_SECRET_LENGTH is warned at start, weakProcessorSecrets); one shared with another
 * processor (which could then sign requests as this one) or with HTTP Basic credentials (sent in
 * the clear to a gateway) stops the start. So does
 * a credential whose text is one of the service's own secrets, or another processor's under
 * another variable (`checkCredentialTexts`): each is named, never its text.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CORE_SECRET_VARIABLES, WEAK_SECRET_CHARS, coreSecretTexts } from '../config-secrets';
import { ProcessorsConfigError } from '../errors';

const httpUrl = z
  .string()
  .url('must be an absolute URL')
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL');

/** a URL whose host is this machine: plain http to it crosses no network (a sidecar, a test gateway) */
function isLoopback(u: string): boolean {
  let host: string;
  try {
    host = new URL(u).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const PROCESSOR_PROTOCOLS = ['tonewall', 'twilio-generic-pay'] as const;
export type ProcessorProtocol = (typeof PROCESSOR_PROTOCOLS)[number];

const envName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'an environment variable name (A-Z, 0-9, _)')
  .refine(
    (n) => !CORE_SECRET_VARIABLES.includes(n),
    (n) => ({ message: `${n} is one of the service's own secrets: give each processor a key of its own` }),
  );

/** an HMAC key for a processor shorter than this is weak (config-secrets.ts WEAK_SECRET_CHARS): warned, not refused */
export const MIN_PROCESSOR_SECRET_LENGTH = WEAK_SECRET_CHARS;

// the same rule as a flow's `collect` field names
const fieldName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a field name: letters, digits, _ or -');

const processorSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a name: letters, digits, _ or -, starting with a letter'),
    url: httpUrl,
    /** how the values are sent: tonewall's signed JSON (CONTRACT §6) or Twilio's Generic Pay Connector request */
    protocol: z.enum(PROCESSOR_PROTOCOLS).default('tonewall'),
    secretEnv: envName.optional(),
    fields: z.array(fieldName).min(1, 'at least one field'),
    eraseUrl: httpUrl.optional(),
    // plain http to another host only when the file says so (local testing); loopback never leaves the machine
    allowInsecure: z.boolean().default(false),
    // twilio-generic-pay only (generic-pay.ts)
    usernameEnv: envName.optional(),
    passwordEnv: envName.optional(),
    method: z.enum(['charge', 'tokenize']).optional(),
    amount: z
      .string({ invalid_type_error: 'a decimal string such as "10.00" (quote it, so YAML keeps it as written)' })
      .regex(/^(0|[1-9][0-9]{0,8})(\.[0-9]{1,3})?$/, 'a decimal string such as "10.00"')
      .refine((a) => Number(a) > 0, 'must be more than 0 (a charge of nothing is a tokenize)')
      .optional(),
    currency: z
      .string()
      .regex(/^[A-Za-z]{3}$/, 'an ISO 4217 currency code such as USD')
      .optional(),
    tokenType: z.enum(['reusable', 'one-time']).optional(),
    description: z.string().min(1).max(255).optional(),
    parameters: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a parameter name'), z.string().max(255)).optional(),
    connectorFields: z
      .object({ cardnumber: fieldName.optional(), expiry: fieldName.optional(), cvv: fieldName.optional(), postal_code: fieldName.optional() })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (!p.allowInsecure) {
      for (const key of ['url', 'eraseUrl'] as const) {
        const u = p[key];
        if (u !== undefined && !/^https:\/\//i.test(u) && !isLoopback(u))
          ctx.addIssue({ code: 'custom', path: [key], message: 'must be an https URL (set allowInsecure: true only for local testing)' });
      }
    }
    const seen = new Set<string>();
    p.fields.forEach((f, i) => {
      if (seen.has(f)) ctx.addIssue({ code: 'custom', path: ['fields', i], message: `duplicate field ${f}` });
      seen.add(f);
    });
    if (p.protocol === 'tonewall') checkTonewall(p, ctx);
    else checkGenericPay(p, ctx);
  });

type ParsedProcessor = z.infer<typeof processorSchema>;

const GENERIC_PAY_ONLY = ['usernameEnv', 'passwordEnv', 'method', 'amount', 'currency', 'tokenType', 'description', 'parameters', 'connectorFields'] as const;

function checkTonewall(p: ParsedProcessor, ctx: z.RefinementCtx): void {
  if (p.secretEnv === undefined) ctx.addIssue({ code: 'custom', path: ['secretEnv'], message: 'Required' });
  for (const key of GENERIC_PAY_ONLY) {
    if (p[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'only for protocol: twilio-generic-pay' });
  }
}

function checkGenericPay(p: ParsedProcessor, ctx: z.RefinementCtx): void {
  const need = (key: 'usernameEnv' | 'passwordEnv' | 'method', why: string) => {
    if (p[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `Required (${why})` });
  };
  need('usernameEnv', 'the HTTP Basic user name, as in the connector settings on Twilio');
  need('passwordEnv', 'the HTTP Basic password, as in the connector settings on Twilio');
  need('method', 'charge or tokenize');
  // erasure requests are tonewall's own (the connector has none): signed with secretEnv
  if (p.eraseUrl !== undefined && p.secretEnv === undefined)
    ctx.addIssue({ code: 'custom', path: ['secretEnv'], message: 'Required with eraseUrl: erasure requests are signed with it' });
  if (p.method === 'charge') {
    if (p.amount === undefined) ctx.addIssue({ code: 'custom', path: ['amount'], message: 'Required for method: charge' });
    if (p.tokenType !== undefined) ctx.addIssue({ code: 'custom', path: ['tokenType'], message: 'only for method: tokenize' });
  } else if (p.method === 'tokenize') {
    for (const key of ['amount', 'currency'] as const) {
      if (p[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'only for method: charge (a tokenize moves no money)' });
    }
  }
  const mapped = new Set<string>();
  for (const [role, name] of Object.entries(p.connectorFields ?? {})) {
    if (name === undefined) continue;
    if (!p.fields.includes(name)) ctx.addIssue({ code: 'custom', path: ['connectorFields', role], message: `${name} is not in fields` });
    if (mapped.has(name)) ctx.addIssue({ code: 'custom', path: ['connectorFields', role], message: `${name} is mapped twice` });
    mapped.add(name);
  }
}

const fileSchema = z
  .object({ processors: z.array(processorSchema).default([]) })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.processors.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['processors', i, 'name'], message: `duplicate processor name ${p.name}` });
      seen.add(p.name);
    });
    // one processor holding another's key could sign requests as it; a Basic password is sent to its gateway as it is
    const signers = new Map<string, string>();
    const basic = new Map<string, string>();
    for (const p of f.processors) {
      for (const v of [p.usernameEnv, p.passwordEnv]) if (v !== undefined && !basic.has(v)) basic.set(v, p.name);
    }
    f.processors.forEach((p, i) => {
      const v = p.secretEnv;
      if (v === undefined) return;
      const path = ['processors', i, 'secretEnv'];
      const signer = signers.get(v);
      if (signer !== undefined)
        ctx.addIssue({ code: 'custom', path, message: `${v} is already the secretEnv of ${signer}: give each processor a key of its own` });
      else if (basic.has(v))
        ctx.addIssue({
          code: 'custom',
          path,
          message: `${v} is also an HTTP Basic credential of ${basic.get(v)}: a signing key must be a variable of its own`,
        });
      signers.set(v, signers.get(v) ?? p.name);
    });
  });

interface ProcessorCommon {
  readonly name: string;
  readonly url: string;
  readonly fields: readonly string[];
  readonly eraseUrl?: string;
  /** the file allowed plain http for this processor (local testing) */
  readonly allowInsecure: boolean;
}

/** CONTRACT §6: `{callSid, subject, fields}` signed with X-Tonewall-Signature */
export interface TonewallProcessorConfig extends ProcessorCommon {
  readonly protocol: 'tonewall';
  readonly secretEnv: string;
  /** the HMAC key: the text of `secretEnv`, as it is. Not enumerable, so it never reaches a log or JSON. */
  readonly secret: string;
}

/** what a twilio-generic-pay processor sends besides the card (generic-pay.ts) */
export interface GenericPaySettings {
  readonly method: 'charge' | 'tokenize';
  /** charge only: a decimal string in the currency's major unit, as <Pay chargeAmount> */
  readonly amount?: string;
  /** charge only: ISO 4217, upper case; USD when the file names none, as <Pay currency> */
  readonly currency?: string;
  /** tokenize only: reusable unless the file says one-time, as <Pay tokenType> */
  readonly tokenType?: 'reusable' | 'one-time';
  readonly description?: string;
  /** sent as the request's `parameters`, as <Pay>'s <Parameter> nouns */
  readonly parameters?: Readonly<Record<string, string>>;
  /** which of `fields` fills which connector field; a role not named here is found by field kind */
  readonly connectorFields: Readonly<{ cardnumber?: string; expiry?: string; cvv?: string; postal_code?: string }>;
}

/** Twilio's Generic Pay Connector request, with HTTP Basic auth (generic-pay.ts) */
export interface GenericPayProcessorConfig extends ProcessorCommon {
  readonly protocol: 'twilio-generic-pay';
  readonly usernameEnv: string;
  readonly passwordEnv: string;
  readonly connector: GenericPaySettings;
  /** only with eraseUrl: erasure requests are tonewall's own, signed */
  readonly secretEnv?: string;
  readonly secret?: string;
  /** HTTP Basic credentials: the texts of usernameEnv and passwordEnv. Not enumerable. */
  readonly username: string;
  readonly password: string;
}

export type ProcessorConfig = TonewallProcessorConfig | GenericPayProcessorConfig;

export { ProcessorsConfigError };

/** the processors whose HMAC key is short enough to be weak, by name and variable (never the text), for buildApp to warn of */
export function weakProcessorSecrets(processors: readonly ProcessorConfig[]): { processor: string; variable: string }[] {
  return processors.flatMap((p) =>
    p.secretEnv !== undefined && p.secret !== undefined && p.secret.length < MIN_PROCESSOR_SECRET_LENGTH ? [{ processor: p.name, variable: p.secretEnv }] : [],
  );
}

/** Reads and validates the processors file; `env` supplies the secrets named by `secretEnv`. */
export function loadProcessors(file: string, env: Record<string, string | undefined>): ProcessorConfig[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ProcessorsConfigError(file, '', `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseProcessors(file, text, env);
}

export function parseProcessors(file: string, text: string, env: Record<string, string | undefined>): ProcessorConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ProcessorsConfigError(file, '', `is not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  // an empty file, or one with only comments, lists no processors
  if (doc === null || doc === undefined) return [];
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProcessorsConfigError(file, issue.path.join('.'), issue.message);
  }
  const credentials: Credential[] = [];
  const processors = parsed.data.processors.map((p, i) => {
    const hidden: Record<string, string> = {};
    const secretOf = (key: CredentialKey, as: string) => {
      const variable = p[key];
      if (variable === undefined) return;
      const text = env[variable];
      if (text === undefined || text === '') throw new ProcessorsConfigError(file, `processors.${i}.${key}`, `${variable} is not set`);
      hidden[as] = text;
      credentials.push({ index: i, processor: p.name, key, variable, text });
    };
    secretOf('secretEnv', 'secret');
    const common = {
      name: p.name,
      url: p.url,
      fields: Object.freeze([...p.fields]),
      allowInsecure: p.allowInsecure,
      ...(p.eraseUrl ? { eraseUrl: p.eraseUrl } : {}),
    };
    let cfg: Record<string, unknown>;
    if (p.protocol === 'tonewall') {
      cfg = { ...common, protocol: p.protocol, secretEnv: p.secretEnv };
    } else {
      secretOf('usernameEnv', 'username');
      secretOf('passwordEnv', 'password');
      // RFC 7617: the user-id of Basic auth cannot hold a colon
      if (hidden.username.includes(':'))
        throw new ProcessorsConfigError(file, `processors.${i}.usernameEnv`, `${p.usernameEnv} holds a ':', which HTTP Basic user names cannot`);
      cfg = {
        ...common,
        protocol: p.protocol,
        usernameEnv: p.usernameEnv,
        passwordEnv: p.passwordEnv,
        ...(p.secretEnv ? { secretEnv: p.secretEnv } : {}),
        connector: genericPaySettings(p),
      };
    }
    for (const [k, v] of Object.entries(hidden)) Object.defineProperty(cfg, k, { value: v, enumerable: false });
    return Object.freeze(cfg) as unknown as ProcessorConfig;
  });
  checkCredentialTexts(file, credentials, env);
  return processors;
}

type CredentialKey = 'secretEnv' | 'usernameEnv' | 'passwordEnv';

/** one processor's credential as read from the environment: `text` is never shown */
interface Credential {
  index: number;
  processor: string;
  key: CredentialKey;
  variable: string;
  text: string;
}

/**
 * The variable names are checked by the schema; this checks what they hold. A processor is not
 * trusted with the service's keys (SECURITY.md): holding AGENT_JWT_SECRET's text under a name of
 * its own, it could mint admin tokens, and a Basic user name or password is sent to its gateway
 * in every request. So no credential may be the text of a core secret (coreSecretTexts: each key
 * of a ring too), and no two processors may hold one text under two variables, which would hand
 * one the other's key or password out of sight of the file. One variable named by two processors'
 * usernameEnv/passwordEnv (two connectors of one gateway) is what the file says, and allowed; so
 * is one user name for two gateways (a user name is no secret), and a processor's own user name
 * equal to its own password (it tells its gateway nothing it lacks).
 */
function checkCredentialTexts(file: string, credentials: readonly Credential[], env: Record<string, string | undefined>): void {
  const core = coreSecretTexts(env);
  credentials.forEach((c, n) => {
    const path = `processors.${c.index}.${c.key}`;
    const own = core.find((k) => k.text === c.text);
    if (own)
      throw new ProcessorsConfigError(
        file,
        path,
        `${c.variable} holds the same text as ${own.where}, one of the service's own secrets: give each processor a credential of its own`,
      );
    for (const other of credentials.slice(0, n)) {
      if (other.variable === c.variable || other.text !== c.text) continue;
      if (other.key === 'usernameEnv' && c.key === 'usernameEnv') continue;
      if (other.index === c.index && other.key !== 'secretEnv' && c.key !== 'secretEnv') continue;
      throw new ProcessorsConfigError(
        file,
        path,
        `${c.variable} holds the same text as ${other.variable} (the ${other.key} of ${other.processor}): give each processor a credential of its own`,
      );
    }
  });
}

function genericPaySettings(p: ParsedProcessor): GenericPaySettings {
  const method = p.method ?? 'charge';
  return Object.freeze({
    method,
    ...(method === 'charge' ? { amount: p.amount, currency: (p.currency ?? 'USD').toUpperCase() } : { tokenType: p.tokenType ?? 'reusable' }),
    ...(p.description !== undefined ? { description: p.description } : {}),
    ...(p.parameters !== undefined ? { parameters: Object.freeze({ ...p.parameters }) } : {}),
    connectorFields: Object.freeze({ ...(p.connectorFields ?? {}) }),
  });
}
