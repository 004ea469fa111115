/**
 * What a drop-in capture's return waits on before it answers, each bounded so the webhook that
 * returns the call stays within the 15 s Twilio gives it: the first answer of each processor that
 * takes the capture's fields (ProcessorWaits, answered by the delivery through
 * DropinService.onProcessorResult), and Twilio's account of the call's status (callOver), read
 * by `end` in service.ts and `returnAfterFailure` in failure-return.ts, which decide what to do with both.
 */
import type { Logger } from 'pino';
import type { CallSession } from '../calls/session';
import type { Flow } from '../flows/schema';
import { errFields } from '../log';
import type { ProcessorConfig } from '../processors/config';
import type { DeliveryResult } from '../processors/outcome';
import { readyFor } from '../processors/records';
import { TERMINAL_CALL_STATUSES, type CallControl } from '../calls/control';
import { DropinErrors } from '../errors';

/**
 * How long a capture's last webhook waits for a processor's first answer. Twilio gives a webhook
 * 15 s; the pause and resume before it are bounded by 3 s each (recording/controller.ts), and the
 * resume is held at most 1 s after a field that ended on its count (flows/steps/collect.ts,
 * RESUME_HOLD_MS); the read of the call's status after it, by CALL_STATUS_READ_MS.
 */
export const PROCESSOR_WAIT_MS = 8_000;
/**
 * How long a capture's return waits for the call's status (end, returnAfterFailure): the REST
 * client's own bound (5 s, and its tries again on a 429) would take the last webhook, after the
 * resume and the processors' wait, past Twilio's 15 s. A read not answered by then is one that
 * failed: the call is not known to be over, and the redirect goes as it would.
 */
export const CALL_STATUS_READ_MS = 2_000;

/** a processor's first answer to a capture, or none (`result` undefined) within the bound */
export interface ProcessorAnswer {
  name: string;
  result?: DeliveryResult;
}

/** the captures of this process waiting on their processors' first answers, by call and processor */
export class ProcessorWaits {
  private readonly waiters = new Map<string, (r: DeliveryResult) => void>();

  constructor(
    private readonly processors: readonly ProcessorConfig[],
    private readonly waitMs = PROCESSOR_WAIT_MS,
  ) {}

  /** one promise per processor that takes this flow's fields: its first answer, or none within the bound */
  awaitAll(flow: Flow, s: CallSession): Promise<ProcessorAnswer>[] {
    const names = new Set(flow.steps.flatMap((st) => ('collect' in st ? [st.collect] : [])));
    return this.processors
      .filter((p) => p.fields.every((f) => names.has(f)) && readyFor(s, p))
      .map(
        (p) =>
          new Promise((resolve) => {
            const key = `${s.callSid}:${p.name}`;
            const timer = setTimeout(() => {
              this.waiters.delete(key);
              resolve({ name: p.name });
            }, this.waitMs);
            this.waiters.set(key, (result) => {
              clearTimeout(timer);
              resolve({ name: p.name, result });
            });
          }),
      );
  }

  /** the delivery's answer for one processor: the capture waiting on it, if any, has it */
  answer(callSid: string, processor: string, result: DeliveryResult): void {
    const key = `${callSid}:${processor}`;
    const w = this.waiters.get(key);
    if (w) {
      this.waiters.delete(key);
      w(result);
    }
  }
}

/** the call is over by Twilio's account of it (a read that fails: not known to be, the redirect goes as it would) */
export async function callOver(twilio: CallControl, callSid: string, log: Logger): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(DropinErrors.statusReadTimeout({ detail: `${CALL_STATUS_READ_MS} ms` })), CALL_STATUS_READ_MS);
  });
  try {
    // bounded: this read is inside a webhook Twilio gives 15 s (PROCESSOR_WAIT_MS)
    return TERMINAL_CALL_STATUSES.has((await Promise.race([twilio.calls(callSid).fetch(), late])).status);
  } catch (err) {
    log.warn({ err: errFields(err) }, "drop-in capture: the call's status could not be read at its return");
    return false;
  } finally {
    clearTimeout(timer);
  }
}
