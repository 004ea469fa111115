/**
 * A `collect` step: ask with <Gather>, validate what comes back by the field's kind, keep only a
 * masked view on the session, hand the plain value to the edge for the vault, ask again on bad
 * input until `attempts` is used up, then mark the field failed and go on.
 */
import type { CallSession } from '../../calls/session';
import { fieldState, maxLengthFor, validate, writeField } from '../../fields';
import type { CollectStep, Flow } from '../schema';
import { isCollect } from '../schema';
import type { EngineResult, Verb } from '../verbs';

const FIXED_LENGTH_KINDS = new Set(['expiry', 'security-code', 'date', 'routing-number']);
export const RETRY_PREFIX = 'Sorry, that was not valid.';

export function askField(step: CollectStep, s: CallSession): Verb {
  const maxLength = maxLengthFor(step.kind, { cardBrand: s.cardBrand, maxLength: step.maxLength });
  const retry = s.attempt > 1;
  return {
    verb: 'gather',
    field: step.collect,
    step: s.step,
    attempt: s.attempt,
    prompt: retry ? step.retryPrompt ?? `${RETRY_PREFIX} ${step.prompt}` : step.prompt,
    // fixed-length kinds end by themselves; '#' still ends any entry early
    numDigits: FIXED_LENGTH_KINDS.has(step.kind) ? maxLength : undefined,
    timeoutSeconds: step.timeoutSeconds,
    sensitive: step.sensitive,
  };
}

export function receiveDigits(step: CollectStep, s: CallSession, raw: string, now: Date, out: EngineResult): void {
  const digits = raw.replace(/#$/, '');
  const result = /^\d+$/.test(digits)
    ? validate(step.kind, digits, { now, cardBrand: s.cardBrand, minLength: step.minLength, maxLength: step.maxLength })
    : ({ valid: false, reason: digits.length === 0 ? 'no-input' : 'not-digits' } as const);
  const meta = { source: 'ivr' as const, at: now.getTime() };
  if (result.valid) {
    writeField(s, step.collect, fieldState({ kind: step.kind, digits, result }, meta));
    out.vaultWrites.push({ field: step.collect, value: digits });
    s.step++;
    s.attempt = 1;
    return;
  }
  if (s.attempt >= step.attempts) {
    const reason = result.reason === 'no-input' ? 'no-input' : `attempts-exhausted:${result.reason}`;
    writeField(s, step.collect, fieldState({ kind: step.kind, failed: reason, digits: /^\d+$/.test(digits) ? digits : '' }, meta));
    s.step++;
    s.attempt = 1;
    return;
  }
  s.attempt++;
}

/** every sensitive field from the current step on is failed with `reason` (fail closed) */
export function failFields(flow: Flow, s: CallSession, reason: string, now: Date): void {
  for (const step of flow.steps.slice(s.step)) {
    if (isCollect(step) && step.sensitive && !s.fields[step.collect]) {
      writeField(s, step.collect, fieldState({ kind: step.kind, failed: reason }, { source: 'ivr', at: now.getTime() }));
    }
  }
}
