/**
 * The rules about the service's own secrets, apart from config.ts, which reads and parses the
 * environment and applies them: which variables hold a secret, every text among them (each key
 * of a ring too), which keys may not share a text, and which are weak. processors/config.ts asks
 * the same of a processor's credentials, which go to parties not trusted with the service's keys,
 * so the rules live where both can import them without the whole configuration.
 */
import { z } from 'zod';

/** a key the service holds only in its environment: long enough to be a key, not a password */
export const secret = (name: string) => z.string().min(32, `${name} must be at least 32 characters`);

/**
 * Variables that hold this service's own secrets: a processor's `secretEnv` may not name one, or
 * the service would hand its own key to a downstream party as an HMAC key.
 */
export const CORE_SECRET_VARIABLES: readonly string[] = Object.freeze([
  'TWILIO_AUTH_TOKEN',
  'AGENT_JWT_SECRET',
  'INSTANCE_MESSAGE_KEY',
  'VAULT_KEYS',
  'SUBJECT_KEY',
  'AUDIT_KEY',
  'METRICS_TOKEN',
  'REDIS_URL',
  'CAPTURE_RESULT_SECRET',
]);

/** one text that is a secret of the service's own: where it is held, said without its text */
export interface CoreSecretText {
  /** the variable, and which part of it (`VAULT_KEYS (the key of entry 2)`) */
  readonly where: string;
  readonly text: string;
}

/**
 * Every text among the service's own secrets in `env`, read as the service reads each: the whole
 * value, and each key of a ring (INSTANCE_MESSAGE_KEY, SUBJECT_KEY, AUDIT_KEY, VAULT_KEYS as `id:base64`
 * entries, the entry and its key) and the password in REDIS_URL. A processor's credential may
 * equal none of them (processors/config.ts): it is sent to, or shared with, a party not trusted
 * with the service's keys.
 */
export function coreSecretTexts(env: Record<string, string | undefined>): CoreSecretText[] {
  const out: CoreSecretText[] = [];
  const add = (where: string, text: string | undefined) => {
    if (text !== undefined && text.trim() !== '') out.push({ where, text });
  };
  for (const name of CORE_SECRET_VARIABLES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    add(name, value);
    if (name === 'INSTANCE_MESSAGE_KEY' || name === 'SUBJECT_KEY' || name === 'AUDIT_KEY') {
      value.split(',').forEach((k, i) => add(`${name} (key ${i + 1} of its ring)`, k.trim()));
    } else if (name === 'VAULT_KEYS') {
      value.split(',').forEach((entry, i) => {
        const e = entry.trim();
        add(`${name} (entry ${i + 1})`, e);
        if (e.includes(':')) add(`${name} (the key of entry ${i + 1})`, e.slice(e.indexOf(':') + 1).trim());
      });
    } else if (name === 'REDIS_URL') {
      try {
        add(`${name} (its password)`, decodeURIComponent(new URL(value).password));
      } catch {
        // not a URL config.ts takes: the service refuses it itself
      }
    }
  }
  return out;
}

/** the parsed keys config.ts's schema compares (after its rings are split into their keys) */
export interface ParsedKeys {
  readonly AGENT_JWT_SECRET: string;
  readonly TWILIO_AUTH_TOKEN: string;
  readonly METRICS_TOKEN?: string;
  readonly CAPTURE_RESULT_SECRET?: string;
  readonly INSTANCE_MESSAGE_KEY?: readonly string[];
  readonly SUBJECT_KEY?: readonly string[];
  readonly AUDIT_KEY?: readonly string[];
}

/**
 * The keys that share a text with a key of another purpose, in the order config.ts reports them
 * (the first is the one the process stops on): a key shared with another purpose is only as safe
 * as that purpose's weakest holder. Messages name variables, never a text.
 */
export function sharedKeyIssues(e: ParsedKeys): { variable: keyof ParsedKeys; message: string }[] {
  const issues: { variable: keyof ParsedKeys; message: string }[] = [];
  const others = { AGENT_JWT_SECRET: e.AGENT_JWT_SECRET, TWILIO_AUTH_TOKEN: e.TWILIO_AUTH_TOKEN };
  for (const name of ['METRICS_TOKEN', 'CAPTURE_RESULT_SECRET'] as const) {
    const v = e[name];
    if (v === undefined) continue;
    for (const [other, text] of Object.entries(others)) {
      if (v === text) issues.push({ variable: name, message: `${name} must not be the same text as ${other}` });
    }
  }
  // each key of a ring, as any of them verifies a message between instances or an audit entry, or finds a caller
  for (const name of ['INSTANCE_MESSAGE_KEY', 'SUBJECT_KEY', 'AUDIT_KEY'] as const) {
    for (const key of e[name] ?? []) {
      for (const [other, text] of Object.entries(others)) {
        if (key === text) issues.push({ variable: name, message: `${name} must not be the same text as ${other}` });
      }
    }
  }
  if ((e.SUBJECT_KEY ?? []).some((k) => (e.AUDIT_KEY ?? []).includes(k)))
    issues.push({ variable: 'AUDIT_KEY', message: 'AUDIT_KEY must not be the same text as SUBJECT_KEY' });
  return issues;
}

/** a secret shorter than this is weak as an HMAC key (RFC 2104: at least the hash's output, 32 bytes for SHA-256) */
export const WEAK_SECRET_CHARS = 32;

/**
 * The core secrets the contract takes as any text but that are short enough to guess or brute
 * force: warned at start (buildApp), never refused. Names only, never the text.
 */
export function weakSecrets(config: {
  readonly twilio: { readonly authToken: string };
  readonly agentJwtSecret: string;
}): ('TWILIO_AUTH_TOKEN' | 'AGENT_JWT_SECRET')[] {
  return [
    ...(config.twilio.authToken.length < WEAK_SECRET_CHARS ? (['TWILIO_AUTH_TOKEN'] as const) : []),
    ...(config.agentJwtSecret.length < WEAK_SECRET_CHARS ? (['AGENT_JWT_SECRET'] as const) : []),
  ];
}
