/**
 * Forwards a subject's erasure to the processors that take one (CONTRACT §6, §7): a signed POST
 * to each one's `eraseUrl`, retried like a delivery. The signed `purpose` is what tells it from a
 * delivery, signed with the same secret (sign.ts). The outcome per processor goes into the
 * erasure receipt. What each is told is what it was sent, and no more:
 *
 * - `protocol: tonewall`: `{purpose: "erasure", subject, receiptId}`, to every such processor
 *   with an `eraseUrl`, whether or not a delivery record of the caller's is still held. Its
 *   deliveries carry `subject`, so it is the party that may keep the caller's number, for as long
 *   as its own retention says; our delivery records go with the call's data (hours: records.ts
 *   deliveryTtlSeconds), so an erasure asked for after that would otherwise reach none of them,
 *   and the controller must tell each recipient (GDPR Art. 17(2), 19). The price: one that took
 *   nothing of this caller's learns the number the admin named, and that it was erased.
 * - `protocol: twilio-generic-pay`: `{purpose: "erasure", transactionIds, receiptId}`, only to one
 *   a delivery of the caller's calls may have reached (`sent`, read from the delivery records as
 *   the erasure removed them), naming the `transaction_id` of each. It was never sent the
 *   caller's number (generic-pay.ts) and knows the payment by those ids only: the number would
 *   be a disclosure it cannot act on. One that took nothing is sent nothing (`no-delivery`).
 *
 * A forward not acknowledged within its own tries is kept in the store and tried again by any
 * instance (erase-queue.ts), a tonewall body sealed there as it names the caller. The caller's
 * number is in a tonewall body only, never in a log line, nor in plain text in the store.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ProcessorConfig } from './config';
import { transactionId } from './generic-pay';
import { type Backoff, backoffDelay, checkBackoff, postSigned, sleep } from './http';
import type { ErasureQueue } from './erase-queue';
import type { SentDelivery } from './records';

/**
 * A delivery's schedule (0.5 s, ×2, ±20%) cut short: 5 tries (the contract's minimum, where a
 * delivery makes 8) and no pause over 4 s, as an erasure is forwarded while the admin's DELETE
 * waits for its receipt.
 */
export const ERASURE_BACKOFF: Readonly<Backoff> = Object.freeze({ baseMs: 500, maxMs: 4_000, maxAttempts: 5 });

export interface ErasureOutcome {
  name: string;
  /**
   * `no-delivery`: a twilio-generic-pay processor no delivery of the caller's reached: nothing sent.
   * `retrying`: a processor that did not acknowledge it within its tries: the forward is kept in
   * the store and tried again until it does, or is given up (erase-queue.ts)
   */
  status: 'forwarded' | 'failed' | 'no-erase-url' | 'no-delivery' | 'retrying';
  httpStatus?: number;
  attempts?: number;
}

export interface ForwardErasureOptions {
  backoff?: Backoff;
  fetchImpl?: typeof fetch;
  log?: Logger;
  /** keeps each forward until it is acknowledged, past its own tries and its instance (without it, one not acknowledged is `failed`) */
  queue?: ErasureQueue;
}

export function erasureIdempotencyKey(receiptId: string, processor: string): string {
  return createHash('sha256').update(`tonewall:erasure\0${receiptId}\0${processor}`).digest('hex');
}

/** what an erasure knows of the caller: who they are, and what of theirs reached which processor */
export interface ErasureSubject {
  /** the canonical identity: what a tonewall delivery carried as `subject` */
  subject: string;
  /** the rounds of the caller's calls that may have reached each processor (records.ts cancelDeliveries) */
  sent: readonly SentDelivery[];
}

/** the signed body for `p`, or undefined when it is to be told nothing (a gateway none of the caller's values reached) */
export function erasureBody(p: ProcessorConfig, who: ErasureSubject, receiptId: string): string | undefined {
  if (p.protocol === 'tonewall') return JSON.stringify({ purpose: 'erasure', subject: who.subject, receiptId });
  const ids = new Set(who.sent.filter((d) => d.processor === p.name).map((d) => transactionId(d.callSid, p.name, d.round)));
  if (ids.size === 0) return undefined;
  return JSON.stringify({ purpose: 'erasure', transactionIds: [...ids].sort(), receiptId });
}

/** All processors are tried in parallel; each is retried on its own schedule. */
export async function forwardErasure(
  processors: readonly ProcessorConfig[],
  who: ErasureSubject,
  receiptId: string,
  opts: ForwardErasureOptions = {},
): Promise<ErasureOutcome[]> {
  const backoff = checkBackoff(opts.backoff ?? ERASURE_BACKOFF);
  const fetchImpl = opts.fetchImpl ?? fetch;
  return Promise.all(
    processors.map(async (p): Promise<ErasureOutcome> => {
      // a twilio-generic-pay processor has a secret exactly when it has an eraseUrl (config.ts)
      const secret = p.secret;
      if (!p.eraseUrl || secret === undefined) return { name: p.name, status: 'no-erase-url' };
      const body = erasureBody(p, who, receiptId);
      if (body === undefined) return { name: p.name, status: 'no-delivery' };
      const idempotencyKey = erasureIdempotencyKey(receiptId, p.name);
      // kept before the first try; sealed unless it is a generic-pay body (ids only): a tonewall body names the caller
      const held = await opts.queue?.hold(p.name, receiptId, body, idempotencyKey, { namesCaller: p.protocol !== 'twilio-generic-pay' }).catch(() => {
        // the store refused it: the forward's own tries go on, as before there was a queue
        opts.log?.warn({ processor: p.name, receiptId }, 'erasure forward not kept: the store refused it');
        return undefined;
      });
      let httpStatus: number | undefined;
      for (let attempt = 1; attempt <= backoff.maxAttempts; attempt++) {
        const out = await postSigned(fetchImpl, p.eraseUrl, body, secret, idempotencyKey);
        httpStatus = out.status;
        if (out.ok) {
          opts.log?.info({ processor: p.name, receiptId, status: out.status, attempt }, 'erasure forwarded');
          await held?.settle(true);
          return { name: p.name, status: 'forwarded', httpStatus: out.status, attempts: attempt };
        }
        opts.log?.warn({ processor: p.name, receiptId, status: out.status, reason: out.reason, attempt }, 'erasure forward failed');
        if (attempt < backoff.maxAttempts) await sleep(backoffDelay(attempt, backoff));
      }
      if (held) {
        await held.settle(false);
        opts.log?.warn({ processor: p.name, receiptId, status: httpStatus }, 'erasure forward failed: kept, to be retried');
        return { name: p.name, status: 'retrying', ...(httpStatus !== undefined ? { httpStatus } : {}), attempts: backoff.maxAttempts };
      }
      opts.log?.error({ processor: p.name, receiptId, status: httpStatus }, 'erasure forward failed: giving up');
      return { name: p.name, status: 'failed', ...(httpStatus !== undefined ? { httpStatus } : {}), attempts: backoff.maxAttempts };
    }),
  );
}
