/**
 * Forwards a subject's erasure to every processor that takes one (CONTRACT §6, §7): a signed
 * POST of `{purpose: "erasure", subject, receiptId}` to its `eraseUrl`, retried like a delivery.
 * The signed `purpose` is what tells it from a delivery, signed with the same secret (sign.ts). The outcome per
 * processor goes into the erasure receipt. The caller's number is in the request body only.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ProcessorConfig } from './config';
import { type Backoff, backoffDelay, checkBackoff, postSigned, sleep } from './http';

/**
 * A delivery's schedule (0.5 s, ×2, ±20%) cut short: 5 tries (the contract's minimum, where a
 * delivery makes 8) and no pause over 4 s, as an erasure is forwarded while the admin's DELETE
 * waits for its receipt.
 */
export const ERASURE_BACKOFF: Readonly<Backoff> = Object.freeze({ baseMs: 500, maxMs: 4_000, maxAttempts: 5 });

export interface ErasureOutcome {
  name: string;
  status: 'forwarded' | 'failed' | 'no-erase-url';
  httpStatus?: number;
  attempts?: number;
}

export interface ForwardErasureOptions {
  backoff?: Backoff;
  fetchImpl?: typeof fetch;
  log?: Logger;
}

export function erasureIdempotencyKey(receiptId: string, processor: string): string {
  return createHash('sha256').update(`tonewall:erasure\0${receiptId}\0${processor}`).digest('hex');
}

/** All processors are tried in parallel; each is retried on its own schedule. */
export async function forwardErasure(
  processors: readonly ProcessorConfig[],
  phone: string,
  receiptId: string,
  opts: ForwardErasureOptions = {},
): Promise<ErasureOutcome[]> {
  const backoff = checkBackoff(opts.backoff ?? ERASURE_BACKOFF);
  const fetchImpl = opts.fetchImpl ?? fetch;
  const body = JSON.stringify({ purpose: 'erasure', subject: phone, receiptId });
  return Promise.all(
    processors.map(async (p): Promise<ErasureOutcome> => {
      // a twilio-generic-pay processor has a secret exactly when it has an eraseUrl (config.ts)
      const secret = p.secret;
      if (!p.eraseUrl || secret === undefined) return { name: p.name, status: 'no-erase-url' };
      let httpStatus: number | undefined;
      for (let attempt = 1; attempt <= backoff.maxAttempts; attempt++) {
        const out = await postSigned(fetchImpl, p.eraseUrl, body, secret, erasureIdempotencyKey(receiptId, p.name));
        httpStatus = out.status;
        if (out.ok) {
          opts.log?.info({ processor: p.name, receiptId, status: out.status, attempt }, 'erasure forwarded');
          return { name: p.name, status: 'forwarded', httpStatus: out.status, attempts: attempt };
        }
        opts.log?.warn({ processor: p.name, receiptId, status: out.status, reason: out.reason, attempt }, 'erasure forward failed');
        if (attempt < backoff.maxAttempts) await sleep(backoffDelay(attempt, backoff));
      }
      opts.log?.error({ processor: p.name, receiptId, status: httpStatus }, 'erasure forward failed: giving up');
      return { name: p.name, status: 'failed', ...(httpStatus !== undefined ? { httpStatus } : {}), attempts: backoff.maxAttempts };
    }),
  );
}
