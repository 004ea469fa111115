/**
 * `PROCESSORS_FILE` (CONTRACT §6): the downstream processors captured values go to, parsed once
 * at start with zod. An absent file means no processors; a file that does not validate stops
 * the service with the file, the path inside it and the reason; a `secretEnv` that names an
 * unset variable stops it naming that variable (never its text).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const httpUrl = z
  .string()
  .url('must be an absolute URL')
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL');

const processorSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a name: letters, digits, _ or -, starting with a letter'),
    url: httpUrl,
    secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'an environment variable name (A-Z, 0-9, _)'),
    // the same rule as a flow's `collect` field names
    fields: z
      .array(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a field name: letters, digits, _ or -'))
      .min(1, 'at least one field'),
    eraseUrl: httpUrl.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
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
    const cfg = { name: p.name, url: p.url, secretEnv: p.secretEnv, fields: Object.freeze([...p.fields]), ...(p.eraseUrl ? { eraseUrl: p.eraseUrl } : {}) };
    Object.defineProperty(cfg, 'secret', { value: secret, enumerable: false });
    return Object.freeze(cfg) as ProcessorConfig;
  });
}
