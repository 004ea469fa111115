/**
 * Erasures to twilio-generic-pay processors that are not acknowledged yet, kept in the store until
 * they are (CONTRACT §6, §7). Such a gateway is told the `transaction_id`s it was charged under,
 * read from the delivery records the erasure removes (erase.ts): once the forward's own tries are
 * over, or its instance is gone, nothing held names those ids any more, and a repeated erasure
 * would tell that gateway nothing. So the forward's signed body is written to the store before its
 * first try and removed once the gateway answers 2xx; one still there is tried again, by whichever
 * instance polls it after its lease expired, on the schedule below, until it is acknowledged or
 * given up. Its body holds transaction ids and the receipt id: opaque ids, never the caller's
 * identity. A tonewall-protocol body holds the caller's identity (`subject`), so it is not kept:
 * the admin repeats the erasure, which every tonewall processor is sent whatever is held (erase.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { isTonewallError } from '../errors';
import type { Keys, Store } from '../store';
import type { ProcessorConfig } from './config';
import { type Backoff, backoffDelay, checkBackoff, postSigned } from './http';

/**
 * The tries after the forward's own (ERASURE_BACKOFF): from a minute, doubling to an hour, 30 in
 * all (about a day), so a gateway down for an afternoon is still told.
 */
export const ERASURE_RETRY_BACKOFF: Readonly<Backoff> = Object.freeze({ baseMs: 60_000, maxMs: 3_600_000, maxAttempts: 30 });
/** longer than the retries can take */
export const ERASURE_RECORD_TTL_SECONDS = 3 * 24 * 3600;
/** longer than a forward's own tries (5 × 10 s and their pauses) and than one retry, so a live holder never loses it */
export const ERASURE_LEASE_SECONDS = 120;
export const DEFAULT_ERASURE_POLL_MS = 15_000;

/** a forward the gateway has not acknowledged: no identity, ids only */
export interface PendingErasure {
  v: 1;
  processor: string;
  receiptId: string;
  /** the signed body, as sent: `{purpose: "erasure", transactionIds, receiptId}` */
  body: string;
  idempotencyKey: string;
  /** retries made after the forward's own tries */
  attempts: number;
  nextAt: number;
  createdAt: number;
}

export interface ErasureQueueDeps {
  store: Store;
  keys: Keys;
  processors: readonly ProcessorConfig[];
  log: Logger;
  fetchImpl?: typeof fetch;
  backoff?: Backoff;
  pollMs?: number;
  /** a kept forward acknowledged (`forwarded`) or given up (`failed`) */
  onOutcome?: (processor: string, status: 'forwarded' | 'failed') => void;
}

/** what the forward's own tries do with the record they hold: drop it (acknowledged) or leave it to the retries */
export interface HeldErasure {
  settle(acknowledged: boolean): Promise<void>;
}

export class ErasureQueue {
  private readonly backoff: Backoff;
  private readonly owner = randomUUID();
  private poller?: NodeJS.Timeout;
  private polling?: Promise<void>;

  constructor(private readonly d: ErasureQueueDeps) {
    this.backoff = checkBackoff(d.backoff ?? ERASURE_RETRY_BACKOFF);
  }

  private member(receiptId: string, processor: string): string {
    return JSON.stringify([receiptId, processor]);
  }

  /**
   * Written before the forward's first try, its lease held by it (so no poll tries it meanwhile):
   * a forward whose instance stops mid-way is taken up once the lease expires.
   */
  async hold(processor: string, receiptId: string, body: string, idempotencyKey: string): Promise<HeldErasure> {
    const { store, keys } = this.d;
    const now = Date.now();
    const rec: PendingErasure = { v: 1, processor, receiptId, body, idempotencyKey, attempts: 0, nextAt: now, createdAt: now };
    const key = keys.erasureForward(receiptId, processor);
    const lease = keys.erasureForwardLease(receiptId, processor);
    await store.multi([
      { op: 'set', key: lease, value: this.owner, ttlSeconds: ERASURE_LEASE_SECONDS },
      { op: 'sadd', key: keys.erasureForwards(), member: this.member(receiptId, processor), ttlSeconds: ERASURE_RECORD_TTL_SECONDS },
      { op: 'set', key, value: JSON.stringify(rec), ttlSeconds: ERASURE_RECORD_TTL_SECONDS },
    ]);
    return {
      settle: async (acknowledged) => {
        try {
          if (acknowledged) await this.drop(receiptId, processor);
          else await store.set(key, JSON.stringify({ ...rec, nextAt: Date.now() + backoffDelay(1, this.backoff) }), ERASURE_RECORD_TTL_SECONDS);
          await store.del(lease);
        } catch (e) {
          // the record stays, its lease expires, and a poll sends it again under the same Idempotency-Key: harmless to the gateway
          this.d.log.warn({ processor, receiptId, code: errorCode(e) }, 'erasure forward record not settled');
        }
      },
    };
  }

  /** takes up the kept forwards now, then polls for them */
  async start(): Promise<void> {
    if (this.poller) return;
    await this.poll();
    this.poller = setInterval(() => {
      this.polling ??= this.poll()
        .catch((e) => this.d.log.warn({ code: errorCode(e) }, 'erasure forward poll failed'))
        .finally(() => (this.polling = undefined));
    }, this.d.pollMs ?? DEFAULT_ERASURE_POLL_MS);
    this.poller.unref();
  }

  async stop(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    await this.polling;
  }

  /** every kept forward due now and held by no one: tried once each */
  async poll(): Promise<void> {
    const { store, keys } = this.d;
    for (const m of await store.smembers(keys.erasureForwards())) {
      const id = parseMember(m);
      if (!id) {
        await store.srem(keys.erasureForwards(), m);
        continue;
      }
      await this.retry(id[0], id[1]);
    }
  }

  private async retry(receiptId: string, processor: string): Promise<void> {
    const { store, keys, log } = this.d;
    const key = keys.erasureForward(receiptId, processor);
    const lease = keys.erasureForwardLease(receiptId, processor);
    const seen = parseRecord(await store.get(key));
    if (!seen) {
      await store.srem(keys.erasureForwards(), this.member(receiptId, processor));
      return;
    }
    if (seen.nextAt > Date.now()) return;
    if (!(await store.setIfAbsent(lease, this.owner, ERASURE_LEASE_SECONDS))) return;
    try {
      // read again under the lease: another instance may have tried it (and dropped or rescheduled
      // it) between the read above and the lease; a stale copy would send it again, count it twice,
      // or write back a record it dropped
      const rec = parseRecord(await store.get(key));
      if (!rec) {
        await store.srem(keys.erasureForwards(), this.member(receiptId, processor));
        return;
      }
      if (rec.nextAt > Date.now()) return;
      const p = this.d.processors.find((x) => x.name === processor);
      const attempts = rec.attempts + 1;
      // a processor removed from PROCESSORS_FILE, or its eraseUrl: nothing can send it
      const out =
        p?.eraseUrl && p.secret !== undefined ? await postSigned(this.d.fetchImpl ?? fetch, p.eraseUrl, rec.body, p.secret, rec.idempotencyKey) : undefined;
      if (out?.ok) {
        log.info({ processor, receiptId, status: out.status, retry: attempts }, 'erasure forwarded');
        await this.drop(receiptId, processor);
        this.d.onOutcome?.(processor, 'forwarded');
        return;
      }
      if (!out || attempts >= this.backoff.maxAttempts) {
        log.error(
          { processor, receiptId, status: out?.status, retries: attempts, reason: out ? out.reason : 'no-erase-url' },
          'erasure forward failed: giving up',
        );
        await this.drop(receiptId, processor);
        this.d.onOutcome?.(processor, 'failed');
        return;
      }
      log.warn({ processor, receiptId, status: out.status, reason: out.reason, retry: attempts }, 'erasure forward failed: will retry');
      await store.set(key, JSON.stringify({ ...rec, attempts, nextAt: Date.now() + backoffDelay(attempts + 1, this.backoff) }), ERASURE_RECORD_TTL_SECONDS);
    } finally {
      await store.del(lease);
    }
  }

  private async drop(receiptId: string, processor: string): Promise<void> {
    const { store, keys } = this.d;
    await store.multi([
      { op: 'del', key: keys.erasureForward(receiptId, processor) },
      { op: 'srem', key: keys.erasureForwards(), member: this.member(receiptId, processor) },
    ]);
  }
}

function parseMember(m: string): [string, string] | null {
  try {
    const v: unknown = JSON.parse(m);
    return Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' ? [v[0], v[1]] : null;
  } catch {
    return null;
  }
}

function parseRecord(raw: string | null): PendingErasure | null {
  if (raw === null) return null;
  try {
    const r = JSON.parse(raw) as PendingErasure;
    return r && r.v === 1 ? r : null;
  } catch {
    return null;
  }
}

function errorCode(e: unknown): string {
  if (isTonewallError(e)) return e.code;
  return e instanceof Error ? e.name : 'unknown';
}
