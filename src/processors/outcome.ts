/**
 * What a finished delivery reports, apart from delivery.ts, which decides when a delivery is
 * finished and writes what this makes: the DeliveryResult handed to its `onResult` (the drop-in
 * return's wait, the panels' `processor.result` event) and the ProcessorOutcome kept on the
 * call's record for a panel that reloads. Pure, so the one rule here that matters for privacy
 * (a gateway's card token is not kept) reads on its own.
 */
import type { ProcessorOutcome } from '../calls/session';
import type { DeliveryRecord } from './records';
import type { ProcessorSummary } from './summary';

export interface DeliveryResult {
  ok: boolean;
  status?: number;
  /** the processor's answer as an allow-listed summary (summary.ts), never its text */
  body?: ProcessorSummary;
  attempts: number;
}

/** the result of a delivery that ended `status` after the record's tries, with the last answer's HTTP status and summary when it had them */
export function deliveryResult(rec: DeliveryRecord, status: 'delivered' | 'failed', info: { httpStatus?: number; answer?: ProcessorSummary }): DeliveryResult {
  return {
    ok: status === 'delivered',
    ...(info.httpStatus !== undefined ? { status: info.httpStatus } : {}),
    ...(info.answer !== undefined ? { body: info.answer } : {}),
    attempts: rec.attempts,
  };
}

/**
 * The result as the call's record keeps it, `at` epoch ms. A tokenizing gateway's card token is
 * not kept: it can be charged again, and the record is any supervisor's to read for hours (the
 * event told the panels once; the app gets it as PaymentToken).
 */
export function processorOutcome(processor: string, result: DeliveryResult, at: number): ProcessorOutcome {
  const { token: _token, ...kept } = result.body ?? {};
  return {
    processor,
    ok: result.ok,
    ...(result.status !== undefined ? { status: result.status } : {}),
    attempts: result.attempts,
    ...(result.body !== undefined ? { result: kept } : {}),
    at,
  };
}

/** the call's outcomes with `outcome` replacing its processor's one before (an earlier payment round's) */
export function withOutcome(outcomes: readonly ProcessorOutcome[] | undefined, outcome: ProcessorOutcome): ProcessorOutcome[] {
  return [...(outcomes ?? []).filter((o) => o.processor !== outcome.processor), outcome];
}
