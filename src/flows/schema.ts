/**
 * The flow file format (CONTRACT §3), parsed with zod. A file that does not validate stops the
 * service at start with the file, the path inside it and the reason.
 */
import { z } from 'zod';

import {
  CARD_BRANDS,
  DIGITS_DEFAULT_MAX_LENGTH,
  DIGITS_DEFAULT_MIN_LENGTH,
  FIELD_KINDS,
  POSTAL_CODE_DEFAULT_MAX_LENGTH,
  POSTAL_CODE_DEFAULT_MIN_LENGTH,
} from '../fields';
import { MAX_ATTEMPTS, errorTypesOf, playUrl, promptEntrySchema, sayLanguage, sayVoice, uncoveredAttempts, type PromptEntry } from './prompts';

/** the kinds whose length a flow sets (minLength, maxLength), with the bounds each has when it does not */
const LENGTH_DEFAULTS: Partial<Record<(typeof FIELD_KINDS)[number], { min: number; max: number }>> = {
  digits: { min: DIGITS_DEFAULT_MIN_LENGTH, max: DIGITS_DEFAULT_MAX_LENGTH },
  'postal-code': { min: POSTAL_CODE_DEFAULT_MIN_LENGTH, max: POSTAL_CODE_DEFAULT_MAX_LENGTH },
};

/** the longest a collect step's Gather waits for a key (its timeoutSeconds): a minute of silence is a caller gone */
export const GATHER_TIMEOUT_MAX_SECONDS = 60;

const sayStep = z.object({ say: z.string().min(1).max(4000), language: sayLanguage.optional(), voice: sayVoice.optional() }).strict();

const playStep = z.object({ play: playUrl }).strict();

const promptText = z.string().min(1).max(4000);
const promptList = z.array(promptEntrySchema).min(1).max(50);

/**
 * A plain string (said in the step's language) or a list of prompt entries (prompts.ts), told
 * apart by type rather than by a union, so an error names the entry and key at fault.
 */
const prompt = z.unknown().transform((v, ctx): z.infer<typeof promptText> | z.infer<typeof promptList> => {
  const r = typeof v === 'string' ? promptText.safeParse(v) : promptList.safeParse(v);
  if (!r.success) {
    for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: issue.path } as z.IssueData);
    return z.NEVER;
  }
  return r.data;
});

const collectStep = z
  .object({
    collect: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a field name: letters, digits, _ or -'),
    kind: z.enum(FIELD_KINDS),
    prompt,
    /** with a plain-string prompt only: said instead of the error message and prompt on every retry */
    retryPrompt: z.string().min(1).max(4000).optional(),
    language: sayLanguage.optional(),
    voice: sayVoice.optional(),
    minLength: z.number().int().min(1).max(64).optional(),
    maxLength: z.number().int().min(1).max(64).optional(),
    attempts: z.number().int().min(1).max(MAX_ATTEMPTS).default(3),
    sensitive: z.boolean().default(true),
    timeoutSeconds: z.number().int().min(1).max(GATHER_TIMEOUT_MAX_SECONDS).default(10),
    /** card-number only: the brands taken; a valid card of another brand is refused as invalid-card-type */
    validCardTypes: z.preprocess((v) => (typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : v), z.array(z.enum(CARD_BRANDS)).min(1)).optional(),
    /** the caller keys the value twice; a mismatch is input-matching-failed and costs one attempt */
    requireMatchingInputs: z.boolean().default(false),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.minLength !== undefined && s.maxLength !== undefined && s.minLength > s.maxLength) {
      ctx.addIssue({ code: 'custom', message: 'minLength must not exceed maxLength', path: ['minLength'] });
    }
    // one bound set past the other's default: no entry could ever be valid (every caller fails the field)
    const defaults = LENGTH_DEFAULTS[s.kind];
    // the other kinds' lengths are their own (a card's by its brand, an expiry's four digits): a bound set there would be ignored
    if (!defaults) {
      for (const key of ['minLength', 'maxLength'] as const) {
        if (s[key] !== undefined)
          ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to kinds digits and postal-code; kind ${s.kind} has a length of its own` });
      }
    }
    if (defaults && (s.minLength === undefined) !== (s.maxLength === undefined)) {
      const min = s.minLength ?? defaults.min;
      const max = s.maxLength ?? defaults.max;
      if (min > max) {
        const [set, unset, bound] = s.minLength !== undefined ? ['minLength', 'maxLength', max] : ['maxLength', 'minLength', min];
        ctx.addIssue({
          code: 'custom',
          path: [set],
          message: `${set} ${s[set as 'minLength' | 'maxLength']} leaves no valid entry: kind ${s.kind} without ${unset} takes ${unset === 'maxLength' ? 'at most' : 'at least'} ${bound} digits; set ${unset} too`,
        });
      }
    }
    // a card's number and its security code are never recorded (PCI DSS): no flow asks for them with the recording running
    if (!s.sensitive && (s.kind === 'card-number' || s.kind === 'security-code'))
      ctx.addIssue({ code: 'custom', path: ['sensitive'], message: `kind ${s.kind} is always sensitive: it is never asked while the call is recorded` });
    if (s.validCardTypes && s.kind !== 'card-number')
      ctx.addIssue({ code: 'custom', path: ['validCardTypes'], message: 'validCardTypes applies to kind card-number only' });
    // a prompt that failed its own parse is already reported (and is no list to check)
    if (!Array.isArray(s.prompt)) return;
    if (s.retryPrompt !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['retryPrompt'],
        message: 'retryPrompt goes with a plain-string prompt; use prompt entries with attempt or errorType',
      });
    checkEntries(s.prompt, s, ctx);
  });

/** entries that could never be said are mistakes: refuse them at start, not on a live call */
function checkEntries(
  entries: PromptEntry[],
  s: { kind: (typeof FIELD_KINDS)[number]; attempts: number; requireMatchingInputs: boolean },
  ctx: z.RefinementCtx,
): void {
  const reported = errorTypesOf(s.kind, s.requireMatchingInputs);
  entries.forEach((e, i) => {
    for (const t of e.errorType ?? []) {
      if (!reported.includes(t)) {
        const why = t === 'input-matching-failed' ? 'only a step with requireMatchingInputs: true reports it' : `kind ${s.kind} never reports it`;
        ctx.addIssue({ code: 'custom', path: ['prompt', i, 'errorType'], message: `errorType ${t} can never be said here: ${why}` });
      }
    }
    for (const a of e.attempt ?? []) {
      if (a > s.attempts)
        ctx.addIssue({ code: 'custom', path: ['prompt', i, 'attempt'], message: `attempt ${a} is beyond the step's attempts (${s.attempts})` });
    }
    if (e.requireMatchingInputs && !s.requireMatchingInputs) {
      ctx.addIssue({
        code: 'custom',
        path: ['prompt', i, 'requireMatchingInputs'],
        message: 'a requireMatchingInputs entry needs requireMatchingInputs: true on the step',
      });
    }
  });
  const missing = uncoveredAttempts(entries, s.attempts);
  if (missing.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['prompt'],
      message: `no entry asks for attempt ${missing.join(', ')}: add one without errorType and attempt, or one for each attempt`,
    });
  }
}

type StepOut = z.infer<typeof sayStep> | z.infer<typeof playStep> | z.infer<typeof collectStep>;

/** a step is a `collect`, a `play` or a `say`: pick its schema by its key so errors name the real field */
const step = z.unknown().transform((v, ctx): StepOut => {
  const isObject = v !== null && typeof v === 'object';
  const schema = isObject && 'collect' in v ? collectStep : isObject && 'play' in v ? playStep : sayStep;
  const r = (schema as z.ZodType<StepOut>).safeParse(v);
  if (!r.success) {
    for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: issue.path } as z.IssueData);
    return z.NEVER;
  }
  return r.data;
});

const handoff = z
  .object({
    mode: z.enum(['bridge', 'dial']),
    to: z
      .string()
      .regex(/^(client:[\w.@-]+|sip:.+|queue:[\w.-]+|\+[1-9]\d{6,14})$/, 'client:NAME, sip:URI, queue:NAME or an E.164 number')
      .optional(),
    say: z.string().min(1).max(4000).optional(),
  })
  .strict()
  .superRefine((h, ctx) => {
    // a bridge places its agent's call over REST (media/agent-dial.ts), and Twilio calls no queue
    // (its To is a number, client: or sip:, else 21211): the caller would hold until the timeout
    if (h.mode === 'bridge' && h.to?.startsWith('queue:'))
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'a bridge calls its agent: client:NAME, sip:URI or an E.164 number; queue:NAME is for mode dial' });
  });

export const flowSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    numbers: z.array(z.string().regex(/^\+[1-9]\d{6,14}$/, 'an E.164 number')).min(1),
    record: z.boolean().default(false),
    language: sayLanguage.optional(),
    voice: sayVoice.optional(),
    steps: z.array(step).default([]),
    handoff: handoff.default({ mode: 'dial' }),
  })
  .strict()
  .superRefine((flow, ctx) => {
    const seen = new Set<string>();
    flow.steps.forEach((s, i) => {
      if ('collect' in s) {
        if (seen.has(s.collect)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'collect'], message: `duplicate field name ${s.collect}` });
        seen.add(s.collect);
      }
    });
  });

export type Flow = z.infer<typeof flowSchema>;
export type FlowStep = Flow['steps'][number];
export type CollectStep = Extract<FlowStep, { collect: string }>;
export type SayStep = Extract<FlowStep, { say: string }>;
export type PlayStep = Extract<FlowStep, { play: string }>;
export type Handoff = Flow['handoff'];

export const isCollect = (s: FlowStep): s is CollectStep => 'collect' in s;
