/**
 * What a drop-in capture hands back (issue 13, like Twilio's <Pay>): one `Result` and, per field
 * of the flow, its masked view, validity and vault token. Pure: the service (service.ts) decides
 * when a capture ends and carries the result back.
 */
import type { CallSession } from '../calls/session';
import type { Verb } from '../flows/verbs';
import type { Flow } from '../flows/schema';
import { isCollect } from '../flows/schema';
import { endingOf, type Ending } from '../flows/steps/collect';
import type { ProcessorSummary } from '../processors/summary';

export const CAPTURE_RESULTS = [
  'success',
  'too-many-failed-attempts',
  'caller-interrupted',
  'caller-hung-up',
  'recording-pause-failed',
  'processor-error',
  // a step failed (an exception, the store unreachable): the call goes back all the same, as
  // Twilio's <Pay> answers `internal-error` (service.ts returnAfterFailure)
  'internal-error',
] as const;
export type CaptureResult = (typeof CAPTURE_RESULTS)[number];

/** the key that ends a capture at any prompt, as `*` cancels Twilio's <Pay> */
export const INTERRUPT_KEY = '*';

/**
 * How the entry that `*` interrupted ended, as far as the app's recordings care (the same rule as
 * after any sensitive field, flows/engine.ts afterSensitiveField): on its count, the caller may
 * still be keying past `*` (the resume waits RESUME_HOLD_MS); on the Gather's timeout, the caller
 * may key on (a guard first, the capture ends after it); on '#', or with no recording paused or
 * no sensitive field asked, the capture ends at once ('key').
 */
export function interruptedEnding(flow: Flow, s: CallSession, g: { digits: string; finishedOnKey?: string }): Ending {
  const step = flow.steps[s.step];
  if (s.recording.status !== 'paused' || !step || !isCollect(step) || !step.sensitive) return 'key';
  return endingOf(step, s, g.digits, g.finishedOnKey);
}

/**
 * A capture runs the flow's steps, recorded by the app's own recording (if any), and never hands
 * off: the flow as the engine sees it records nothing itself and ends in a plain "dial" handoff
 * that the service replaces with the return.
 */
export function dropinFlow(flow: Flow): Flow {
  return { ...flow, record: false, handoff: { mode: 'dial' } };
}

/**
 * Whether this webhook's step ends the capture, and how: the recording could not be paused, a
 * field used up its attempts (the next one is not asked, as <Pay> stops), or the flow reached its
 * end. undefined: the capture goes on with `verbs`.
 */
export function endOfCapture(flow: Flow, s: CallSession, verbs: readonly Verb[]): CaptureResult | undefined {
  if (s.recording.pauseFailed) return 'recording-pause-failed';
  // a guard first: the caller may still be keying the field that ended (flows/steps/collect.ts guardAfter)
  if (verbs.some((v) => v.verb === 'guard')) return undefined;
  // a failed field ends the capture as soon as its guard, if any, has: no capture goes on past one
  for (const step of flow.steps) {
    if (!isCollect(step)) continue;
    const f = s.fields[step.collect];
    if (f && !f.valid) return 'too-many-failed-attempts';
  }
  return verbs.some((v) => v.verb === 'handoff') ? 'success' : undefined;
}

/**
 * The result's parameters: never a value, only what an agent may see (masked, last4, brand,
 * valid, the failure reason) and the vault token that names the value for a processor.
 */
export function resultParams(
  flow: Flow,
  s: CallSession,
  result: CaptureResult,
  processors: ReadonlyArray<{ name: string; summary?: ProcessorSummary }> = [],
): Record<string, string> {
  const out: Record<string, string> = { CallSid: s.callSid, Result: result };
  for (const step of flow.steps) {
    if (!isCollect(step)) continue;
    const f = s.fields[step.collect];
    if (!f) continue;
    const n = step.collect;
    out[`${n}_masked`] = f.masked;
    out[`${n}_valid`] = String(f.valid);
    if (f.last4) out[`${n}_last4`] = f.last4;
    if (f.brand) out[`${n}_brand`] = f.brand;
    if (f.valid && f.token) out[`${n}_token`] = f.token;
    if (f.reason) out[`${n}_reason`] = f.reason;
  }
  for (const p of processors) {
    for (const [k, v] of Object.entries(p.summary ?? {})) {
      if (v !== undefined) out[`processor_${p.name}_${k}`] = String(v);
    }
  }
  return out;
}
