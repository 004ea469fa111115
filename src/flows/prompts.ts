/**
 * What a `collect` step says, by attempt and by the error that made it ask again, modelled on
 * Twilio's `<Pay><Prompt for=… errorType=… attempt=… requireMatchingInputs=…>`.
 *
 * A step's `prompt` is a plain string or a list of entries, each one `<Say>` or one `<Play>`:
 * - an *ask* entry (no `errorType`) asks for the value; `attempt` limits it to some attempts;
 * - an *error* entry (`errorType`) is said before the ask on the attempt after that error;
 * - a *confirm* entry (`requireMatchingInputs: true`) asks for the value the second time.
 * Of the entries that apply, the most specific win (an exact errorType over the generic
 * `invalid`, an entry naming the attempt over one that does not); all entries equally specific
 * are said in file order, so a message may be composed of several. No error entry for an error:
 * its default message (prompt-defaults.ts) in the step's language.
 */
import { z } from 'zod';
import { ERROR_TYPES, type ErrorType, type FieldKind } from '../fields';

export { ERROR_TYPES, errorTypeFor, type ErrorType } from '../fields';
import { defaultConfirm, defaultErrorMessage } from './prompt-defaults';

/** the most `attempts` a step may have (flows/schema.ts), and so the highest `attempt` an entry may name */
export const MAX_ATTEMPTS = 10;

/** the error types a step of `kind` can report, so an entry for one it never reports is refused at start */
export function errorTypesOf(kind: FieldKind, requireMatchingInputs: boolean): ErrorType[] {
  const own: ErrorType[] =
    kind === 'card-number'
      ? ['invalid-card-number', 'invalid-card-type']
      : kind === 'expiry'
        ? ['invalid-date']
        : kind === 'security-code'
          ? ['invalid-security-code']
          : kind === 'postal-code'
            ? ['invalid-postal-code']
            : [];
  return ['timeout', 'invalid', ...own, ...(requireMatchingInputs ? (['input-matching-failed'] as const) : [])];
}

/** a space-separated string (as in TwiML) or a YAML list */
const spaceList = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : typeof v === 'number' ? [v] : v), z.array(item).min(1));

const attemptNumber = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.number().int().min(1).max(MAX_ATTEMPTS));

/** <Say language>: a language tag as Twilio lists them (en-US, es-MX, fr-CA, en-gb for the basic voices) */
export const sayLanguage = z.string().regex(/^[a-z]{2,3}(-[A-Za-z]{2,4})?$/, 'a language tag such as en-US or es-MX');
/** <Say voice>: man, woman, alice, or a provider voice (Polly.Lupe, Polly.Lupe-Neural, Google.es-US-Neural2-A) */
export const sayVoice = z
  .string()
  .regex(/^(man|woman|alice|Polly\.[A-Za-z]+(-[A-Za-z]+)?|Google\.[a-z]{2,3}-[A-Z]{2}-[A-Za-z0-9-]+)$/, 'man, woman, alice, Polly.<Name> or Google.<voice>');

/** <Play> URLs: https only, so what a caller hears cannot be swapped on the way */
export const playUrl = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      return new URL(u).protocol === 'https:';
    } catch {
      return false;
    }
  }, 'an https:// URL');

export const promptEntrySchema = z
  .object({
    say: z.string().min(1).max(4000).optional(),
    play: playUrl.optional(),
    language: sayLanguage.optional(),
    voice: sayVoice.optional(),
    errorType: spaceList(z.enum(ERROR_TYPES)).optional(),
    attempt: spaceList(attemptNumber).optional(),
    requireMatchingInputs: z.boolean().optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    if ((e.say === undefined) === (e.play === undefined)) ctx.addIssue({ code: 'custom', message: 'a prompt entry has exactly one of say or play' });
    if (e.play !== undefined && (e.language !== undefined || e.voice !== undefined)) {
      ctx.addIssue({ code: 'custom', path: [e.language !== undefined ? 'language' : 'voice'], message: 'language and voice apply to say, not play' });
    }
    if (e.requireMatchingInputs && e.errorType)
      ctx.addIssue({ code: 'custom', path: ['errorType'], message: 'a requireMatchingInputs entry asks again; it has no errorType' });
  });

export type PromptEntry = z.infer<typeof promptEntrySchema>;

/** what the caller hears, one <Say> or <Play> each, with the language and voice already resolved */
export type PromptPart = { say: string; language?: string; voice?: string } | { play: string };

export interface PromptContext {
  attempt: number;
  /** why this attempt is asked again; none on a first attempt */
  error?: ErrorType;
  /** the second entry of a requireMatchingInputs step */
  confirm: boolean;
  /** the step's, else the flow's */
  language?: string;
  voice?: string;
}

/** how well an entry fits: -1 not at all; higher is more specific */
function errorScore(e: PromptEntry, error: ErrorType): number {
  if (!e.errorType) return -1;
  if (e.errorType.includes(error)) return 2;
  return error.startsWith('invalid') && e.errorType.includes('invalid') ? 1 : -1;
}

const attemptScore = (e: PromptEntry, attempt: number): number => (e.attempt === undefined ? 0 : e.attempt.includes(attempt) ? 1 : -1);

/** the entries with the highest score, in file order */
function best(entries: PromptEntry[], score: (e: PromptEntry) => number): PromptEntry[] {
  let top = -1;
  let out: PromptEntry[] = [];
  for (const e of entries) {
    const s = score(e);
    if (s < 0 || s < top) continue;
    if (s > top) {
      top = s;
      out = [];
    }
    out.push(e);
  }
  return out;
}

function part(e: PromptEntry, c: PromptContext): PromptPart {
  if (e.play !== undefined) return { play: e.play };
  const language = e.language ?? c.language;
  const voice = e.voice ?? c.voice;
  return { say: e.say!, ...(language ? { language } : {}), ...(voice ? { voice } : {}) };
}

function sayPart(text: string, c: PromptContext): PromptPart {
  return { say: text, ...(c.language ? { language: c.language } : {}), ...(c.voice ? { voice: c.voice } : {}) };
}

/** the ask entries for this attempt (confirm entries on the second entry of a matching pair) */
function askEntries(entries: PromptEntry[], c: PromptContext): PromptEntry[] {
  const asks = entries.filter((e) => !e.errorType && Boolean(e.requireMatchingInputs) === c.confirm);
  return best(asks, (e) => attemptScore(e, c.attempt));
}

/** What the caller hears for this attempt: the error message, if any, then the ask. */
export function selectPrompt(entries: PromptEntry[], c: PromptContext): PromptPart[] {
  const out: PromptPart[] = [];
  if (c.error) {
    const errs = best(entries, (e) => {
      const es = errorScore(e, c.error!);
      const as = attemptScore(e, c.attempt);
      return es < 0 || as < 0 ? -1 : es * 2 + as;
    });
    if (errs.length > 0) out.push(...errs.map((e) => part(e, c)));
    else out.push(sayPart(defaultErrorMessage(c.error, c.language), c));
  }
  const asks = askEntries(entries, c);
  if (asks.length > 0) out.push(...asks.map((e) => part(e, c)));
  else if (c.confirm) out.push(sayPart(defaultConfirm(c.language), c));
  return out;
}

/** the attempts (1..attempts) no ask entry covers: the caller would hear nothing but silence */
export function uncoveredAttempts(entries: PromptEntry[], attempts: number): number[] {
  const missing: number[] = [];
  for (let a = 1; a <= attempts; a++) {
    if (askEntries(entries, { attempt: a, confirm: false }).length === 0) missing.push(a);
  }
  return missing;
}
