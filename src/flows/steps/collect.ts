/**
 * A `collect` step: ask with <Gather>, validate what comes back by the field's kind, keep only a
 * masked view on the session, hand the plain value to the edge for the vault, ask again on bad
 * input (with the prompt for that attempt and error) until `attempts` is used up, then mark the
 * field failed and go on. A requireMatchingInputs step asks twice: the first entry waits in the
 * vault (session.pendingMatch holds its token) and becomes the field's value if the second
 * matches it.
 */
import type { CallSession } from '../../calls/session';
import { fieldState, maxLengthFor, validate, writeField, type FieldState, type ValidationResult } from '../../fields';
import { errorTypeFor, errorTypesOf, selectPrompt, type ErrorType, type PromptPart } from '../prompts';
import type { CollectStep, Flow } from '../schema';
import { isCollect } from '../schema';
import type { EngineResult, Verb } from '../verbs';

const FIXED_LENGTH_KINDS = new Set(['expiry', 'security-code', 'date', 'routing-number']);

/**
 * How long after a sensitive Gather that ended on its count the recording stays paused. The
 * Gather ends on the field's last key, but a caller who keys on (a four-digit year in an expiry,
 * a fourth digit in a Visa's code) presses those keys after it, while Twilio asks for the next
 * TwiML: a resume sent at once would catch them in the recording. A caller keys four or five a
 * second, so this covers four or five keys more; the cost is that much more silence before the
 * words after the last sensitive field.
 */
export const RESUME_HOLD_MS = 1_000;

/**
 * The longest a guard waits for the caller's silence. The caller has just been silent for the
 * field's whole timeout (10 s by default) before the guard begins; as much again would leave
 * 20 s of dead air, long enough for a caller to take the call for dropped and hang up. Five
 * seconds is Twilio's own default for "the caller is done".
 */
export const GUARD_MAX_SECONDS = 5;

/**
 * A sensitive field whose Gather ended on the caller's silence (its timeout) and after which the
 * recording would run again (resumed for the words that follow, or, in a drop-in capture, the
 * app's recordings resumed as a failed field ends it) is followed by a guard first: a <Gather>
 * that says nothing, takes no '#', and ends only when the caller has been silent for as long as
 * the field waited (its timeoutSeconds, at most GUARD_MAX_SECONDS). A caller who stopped
 * mid-entry for longer than the timeout and keys on, or starts late, keys into the guard, in the
 * paused stretch; what it gathers is never read. The cost, only for entries that end on a
 * timeout: that much more silence before the words after the field.
 */
export function guardAfter(step: CollectStep, s: Pick<CallSession, 'step'>): Verb {
  return { verb: 'guard', step: s.step, timeoutSeconds: Math.min(step.timeoutSeconds, GUARD_MAX_SECONDS) };
}

/** what a Gather answered: the keys, and for the second entry of a pair the first, from the vault (null: gone) */
export interface Keyed {
  digits: string;
  first?: string | null;
}

/** the step is waiting for the second entry of a matching pair */
export const awaitingMatch = (s: CallSession): boolean => s.pendingMatch?.step === s.step;

export function askField(step: CollectStep, s: CallSession, flow: Pick<Flow, 'language' | 'voice'>): Verb {
  const confirm = awaitingMatch(s);
  return {
    verb: 'gather',
    field: step.collect,
    step: s.step,
    attempt: s.attempt,
    prompts: promptsFor(step, s, flow, confirm),
    ...(confirm ? { confirm: true as const } : {}),
    ...(s.strayKey === 'asked-again' ? { again: true as const } : {}),
    // fixed-length kinds end by themselves; '#' still ends any entry early
    numDigits: countLimit(step, s),
    timeoutSeconds: step.timeoutSeconds,
    sensitive: step.sensitive,
  };
}

/**
 * How the caller's entry ended: on the key that says it is done (finishOnKey, '#'), on the
 * field's count (numDigits: keys may follow it, RESUME_HOLD_MS), or on the caller's silence (the
 * Gather's timeout: the caller may have stopped mid-entry and key on, guardAfter).
 */
export type Ending = 'key' | 'count' | 'silence';

/**
 * The ending of an answer. Twilio sends `FinishedOnKey` with every Gather action: the key that
 * ended it, empty when its count or its timeout did. An answer without it (or with `Digits` that
 * end in '#', as no Gather of this service sends) is read by what it holds; one that cannot be
 * told from a timeout is taken as silence, the ending that asks the most of the recording.
 */
export function endingOf(step: CollectStep, s: CallSession, digits: string, finishedOnKey?: string): Ending {
  const entered = digits.replace(/#$/, '');
  const limit = countLimit(step, s);
  if (limit !== undefined && entered.length >= limit) return 'count';
  if (finishedOnKey || entered.length < digits.length) return 'key';
  return 'silence';
}

/** the Gather's numDigits: the field's length when it ends by count, else none */
function countLimit(step: CollectStep, s: CallSession): number | undefined {
  return endsByCount(step, s) ? maxLengthFor(step.kind, { cardBrand: s.cardBrand, maxLength: step.maxLength }) : undefined;
}

/**
 * Whether the Gather may end on the field's length. A security code's length is the card brand's
 * (4 for Amex, else 3): without a brand on the call (no card collected, or none valid) a Gather
 * ending on the third key would leave an Amex holder's fourth key pressed after it, outside the
 * paused stretch, where the next step may already have resumed the recording. Then the entry ends
 * on '#' or the timeout, and a fourth key stays inside it (and fails validation: asked again).
 */
function endsByCount(step: CollectStep, s: CallSession): boolean {
  if (step.kind === 'security-code') return s.cardBrand !== undefined;
  return FIXED_LENGTH_KINDS.has(step.kind);
}

/**
 * Every <Gather> the step (the flow's `index`-th) can ask: each attempt, after each error it can
 * report, and each entry of a matching pair, as askField asks it. The first is what a document
 * with the words before the step asks; the others are asked alone. What the largest TwiML
 * document a flow can produce is measured over (twilio/document-size.ts).
 */
export function everyAsk(step: CollectStep, index: number, flow: Pick<Flow, 'language' | 'voice'>): Extract<Verb, { verb: 'gather' }>[] {
  const asks: Extract<Verb, { verb: 'gather' }>[] = [];
  const errors = errorTypesOf(step.kind, step.requireMatchingInputs);
  for (let attempt = 1; attempt <= step.attempts; attempt++) {
    for (const lastError of attempt === 1 ? [undefined] : errors) {
      for (const confirm of step.requireMatchingInputs ? [false, true] : [false]) {
        asks.push({
          verb: 'gather',
          field: step.collect,
          step: index,
          attempt,
          prompts: promptsFor(step, { attempt, lastError }, flow, confirm),
          ...(confirm ? { confirm: true as const } : {}),
          numDigits: maxLengthFor(step.kind, { maxLength: step.maxLength }),
          timeoutSeconds: step.timeoutSeconds,
          sensitive: step.sensitive,
        });
      }
    }
  }
  return asks;
}

function promptsFor(step: CollectStep, s: Pick<CallSession, 'attempt' | 'lastError'>, flow: Pick<Flow, 'language' | 'voice'>, confirm: boolean): PromptPart[] {
  const language = step.language ?? flow.language;
  const voice = step.voice ?? flow.voice;
  const error = !confirm && s.attempt > 1 ? (s.lastError ?? 'invalid') : undefined;
  const c = { attempt: s.attempt, error, confirm, language, voice };
  if (typeof step.prompt !== 'string') return selectPrompt(step.prompt, c);
  if (error && step.retryPrompt) return [{ say: step.retryPrompt, ...(language ? { language } : {}), ...(voice ? { voice } : {}) }];
  return selectPrompt([{ say: step.prompt }], c);
}

function check(step: CollectStep, s: CallSession, digits: string, now: Date): ValidationResult | { valid: false; reason: 'no-input' | 'not-digits' } {
  if (!/^\d+$/.test(digits)) return { valid: false, reason: digits.length === 0 ? 'no-input' : 'not-digits' };
  return validate(step.kind, digits, {
    now,
    cardBrand: s.cardBrand,
    minLength: step.minLength,
    maxLength: step.maxLength,
    validCardTypes: step.validCardTypes,
  });
}

export function receiveDigits(step: CollectStep, s: CallSession, keyed: Keyed, now: Date, out: EngineResult): void {
  const digits = keyed.digits.replace(/#$/, '');
  const meta = { source: 'ivr' as const, at: now.getTime() };
  if (awaitingMatch(s)) {
    const pending = s.pendingMatch!;
    s.pendingMatch = undefined; // assigned, not deleted: the session is merged over the stored one
    const result = check(step, s, digits, now);
    if (result.valid && keyed.first != null && digits === keyed.first) {
      // the value is already in the vault, sealed for this field: its token becomes the field's
      complete(step, s, fieldState({ kind: step.kind, digits, result, token: pending.token }, meta));
      return;
    }
    (out.vaultErases ??= []).push(pending.token);
    const error: ErrorType = digits.length === 0 ? 'timeout' : 'input-matching-failed';
    retryOrFail(step, s, error, digits, meta);
    return;
  }
  const result = check(step, s, digits, now);
  if (result.valid && step.requireMatchingInputs) {
    out.vaultWrites.push({ field: step.collect, value: digits, pending: true });
    s.pendingMatch = { step: s.step, token: '' }; // the edge fills in the token it got from the vault
    return;
  }
  if (result.valid) {
    out.vaultWrites.push({ field: step.collect, value: digits });
    complete(step, s, fieldState({ kind: step.kind, digits, result }, meta));
    return;
  }
  retryOrFail(step, s, errorTypeFor(step.kind, result.reason), digits, meta, result.reason);
}

function complete(step: CollectStep, s: CallSession, field: FieldState): void {
  writeField(s, step.collect, field);
  nextStep(s);
}

function nextStep(s: CallSession): void {
  s.step++;
  s.attempt = 1;
  s.lastError = undefined;
}

/** another attempt with `error`'s prompt, or, when none is left, the field failed for `reason` */
function retryOrFail(step: CollectStep, s: CallSession, error: ErrorType, digits: string, meta: { source: 'ivr'; at: number }, reason: string = error): void {
  if (s.attempt < step.attempts) {
    s.attempt++;
    s.lastError = error;
    return;
  }
  const failed = reason === 'no-input' || error === 'timeout' ? 'no-input' : `attempts-exhausted:${reason}`;
  writeField(s, step.collect, fieldState({ kind: step.kind, failed, digits: /^\d+$/.test(digits) ? digits : '' }, meta));
  nextStep(s);
}

/** every sensitive field from the current step on is failed with `reason` (fail closed) */
export function failFields(flow: Flow, s: CallSession, reason: string, now: Date): void {
  for (const step of flow.steps.slice(s.step)) {
    if (isCollect(step) && step.sensitive && !s.fields[step.collect]) {
      writeField(s, step.collect, fieldState({ kind: step.kind, failed: reason }, { source: 'ivr', at: now.getTime() }));
    }
  }
}
