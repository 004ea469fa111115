/**
 * `PROCESSORS_FILE` (CONTRACT §6): the downstream processors captured values go to, parsed once
 * at start with zod. An absent file means no processors; a file that does not validate stops
 * the service with the file, the path inside it and the reason; a `secretEnv` that names an
 * unset variable stops it naming that variable (never its text).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CORE_SECRET_VARIABLES } from '../config';

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

const processorSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a name: letters, digits, _ or -, starting with a letter'),
    url: httpUrl,
    secretEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'an environment variable name (A-Z, 0-9, _)')
      .refine((n) => !CORE_SECRET_VARIABLES.includes(n), (n) => ({ message: `${n} is one of the service's own secrets: give each processor a key of its own` })),
    // the same rule as a flow's `collect` field names
    fields: z
      .array(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a field name: letters, digits, _ or -'))
      .min(1, 'at least one field'),
    eraseUrl: httpUrl.optional(),
    // plain http to another host only when the file says so (local testing); loopback never leaves the machine
    allowInsecure: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (!p.allowInsecure) {
      for (const key of ['url', 'eraseUrl'] as const) {
        const u = p[key];
        if (u !== undefined && !/^https:\/\//i.test(u) && !isLoopback(u)) ctx.addIssue({ code: 'custom', path: [key], message: 'must be an https URL (set allowInsecure: true only for local testing)' });
      }
    }
    const seen = new Set<string>();
    p.fields.forEach((f, i) => {
      if (seen.has(f)) ctx.addIssue({ code: 'custom', path: ['fields', i], message: `duplicate field ${f}` });
      seen.add(f);
    });
  });

const fileSchema = z
  .object({ processors: z.array(processorSchema).default([]) })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.processors.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['processors', i, 'name'], message: `duplicate processor name ${p.name}` });
      seen.add(p.name);
    });
  });

export interface ProcessorConfig {
  readonly name: string;
  readonly url: string;
  readonly secretEnv: string;
  readonly fields: readonly string[];
  readonly eraseUrl?: string;
  /** the file allowed plain http for this processor (local testing) */
  readonly allowInsecure: boolean;
  /** the HMAC key: the text of `secretEnv`, as it is. Not enumerable, so it never reaches a log or JSON. */
  readonly secret: string;
}

export class ProcessorsConfigError extends Error {
  readonly code = 'TW_ERR_PROCESSORS_INVALID';
  constructor(
    readonly file: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${file}: ${path ? path + ': ' : ''}${reason}`);
    this.name = 'ProcessorsConfigError';
  }
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
  return parsed.data.processors.map((p, i) => {
    const secret = env[p.secretEnv];
    if (secret === undefined || secret === '') {
      throw new ProcessorsConfigError(file, `processors.${i}.secretEnv`, `${p.secretEnv} is not set`);
    }
    const cfg = { name: p.name, url: p.url, secretEnv: p.secretEnv, fields: Object.freeze([...p.fields]), allowInsecure: p.allowInsecure, ...(p.eraseUrl ? { eraseUrl: p.eraseUrl } : {}) };
    Object.defineProperty(cfg, 'secret', { value: secret, enumerable: false });
    return Object.freeze(cfg) as ProcessorConfig;
  });
}
