/**
 * Erasures to processors that are not acknowledged yet, kept in the store until they are
 * (CONTRACT §6, §7), so that neither the forward's own tries ending nor its instance stopping
 * leaves a processor untold. The forward's signed body is written to the store before its first
 * try and removed once the processor answers 2xx; one still there is tried again, by whichever
 * instance polls it after its lease expired, on the schedule below, with the same body and
 * Idempotency-Key (each try signed afresh: `t` is the time of the try, as for the forward's own
 * tries), until it is acknowledged or given up; either way the record goes, and it expires in any
 * case (ERASURE_RECORD_TTL_SECONDS).
 *
 * - twilio-generic-pay: the body holds transaction ids and the receipt id, opaque ids that name
 *   no one, kept as they are. The gateway knows the payment by those ids only, read from the
 *   delivery records the erasure removes (erase.ts): once the erasure is done nothing else held
 *   names them.
 * - tonewall: the body holds the caller's identity (`subject`), which no key or value in the store
 *   may hold in plain text: it is kept sealed with the vault's key ring (VAULT_KEYS: AES-256-GCM,
 *   the vault's envelope, bound to the receipt and processor), and opened only to be sent. A kept
 *   body that cannot be opened (its key gone from VAULT_KEYS on this instance, or the envelope
 *   altered) is a failed try: another instance holding the key may still send it, and after the
 *   last try it is given up, counted and alerted on like any other.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { errorCode } from '../errors';
import type { Keys, Store } from '../store';
import { Poller } from '../store/poller';
import { type KeyRing, Vault } from '../vault';
import type { ProcessorConfig } from './config';
import { type Backoff, backoffDelay, checkBackoff, type PostOutcome, postSigned } from './http';

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

/** a forward the processor has not acknowledged: no identity in plain text */
export interface PendingErasure {
  v: 1;
  processor: string;
  receiptId: string;
  /** the signed body, as sent, when it names no one: `{purpose: "erasure", transactionIds, receiptId}` */
  body?: string;
  /** the signed body, sealed (`Vault.seal`, erasureForwardAd), when it names the caller: `{purpose: "erasure", subject, receiptId}` */
  sealed?: string;
  idempotencyKey: string;
  /** retries made after the forward's own tries */
  attempts: number;
  nextAt: number;
  createdAt: number;
}

export interface ErasureQueueDeps {
  store: Store;
  keys: Keys;
  /** the vault's key ring (VAULT_KEYS): seals a kept body that names the caller, opens it to send it */
  vaultKeys: KeyRing;
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
  private readonly poller = new Poller(
    () => this.poll(),
    (e) => this.d.log.warn({ code: errorCode(e) }, 'erasure forward poll failed'),
  );

  constructor(private readonly d: ErasureQueueDeps) {
    this.backoff = checkBackoff(d.backoff ?? ERASURE_RETRY_BACKOFF);
  }

  private member(receiptId: string, processor: string): string {
    return JSON.stringify([receiptId, processor]);
  }

  /**
   * The index a kept forward is listed in. A sealed one has its own: an instance of a release
   * that kept only plain bodies (during a rolling upgrade) reads only the plain index, and would
   * otherwise send a sealed record's missing `body`, an empty erasure, as if it were the forward.
   */
  private index(sealed: boolean): string {
    return sealed ? this.d.keys.erasureForwardsSealed() : this.d.keys.erasureForwards();
  }

  /**
   * Written before the forward's first try, its lease held by it (so no poll tries it meanwhile):
   * a forward whose instance stops mid-way is taken up once the lease expires. `namesCaller`: the
   * body holds the caller's identity, and is kept sealed.
   */
  async hold(processor: string, receiptId: string, body: string, idempotencyKey: string, opts: { namesCaller: boolean }): Promise<HeldErasure> {
    const { store, keys } = this.d;
    const now = Date.now();
    const kept = opts.namesCaller ? { sealed: Vault.seal(this.d.vaultKeys, erasureForwardAd(receiptId, processor), body) } : { body };
    const rec: PendingErasure = { v: 1, processor, receiptId, ...kept, idempotencyKey, attempts: 0, nextAt: now, createdAt: now };
    const key = keys.erasureForward(receiptId, processor);
    const lease = keys.erasureForwardLease(receiptId, processor);
    await store.multi([
      { op: 'set', key: lease, value: this.owner, ttlSeconds: ERASURE_LEASE_SECONDS },
      { op: 'sadd', key: this.index(opts.namesCaller), member: this.member(receiptId, processor), ttlSeconds: ERASURE_RECORD_TTL_SECONDS },
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

  /**
   * The kept forwards of the erasures of `subject` (the canonical identity a tonewall body names),
   * for a subject access report: those whose sealed body names it, opened here and compared, never
   * returned, and those of the same receipts whose body names no one (a twilio-generic-pay
   * gateway's transaction ids). A body that does not open on this instance is passed over.
   */
  async keptFor(subject: string): Promise<KeptErasure[]> {
    const { store, keys } = this.d;
    const kept: KeptErasure[] = [];
    const receipts = new Set<string>();
    for (const m of await store.smembers(this.index(true))) {
      const id = parseMember(m);
      const rec = id ? parseRecord(await store.get(keys.erasureForward(id[0], id[1]))) : null;
      if (!id || rec?.sealed === undefined) continue;
      let named: unknown;
      try {
        named = (JSON.parse(Vault.open(this.d.vaultKeys, erasureForwardAd(id[0], id[1]), rec.sealed)) as { subject?: unknown }).subject;
      } catch {
        continue;
      }
      if (named !== subject) continue;
      receipts.add(id[0]);
      kept.push(keptView(rec));
    }
    if (receipts.size === 0) return kept;
    for (const m of await store.smembers(this.index(false))) {
      const id = parseMember(m);
      if (!id || !receipts.has(id[0])) continue;
      const rec = parseRecord(await store.get(keys.erasureForward(id[0], id[1])));
      if (rec) kept.push(keptView(rec));
    }
    return kept.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.processor.localeCompare(b.processor));
  }

  /** takes up the kept forwards now, then polls for them */
  start(): Promise<void> {
    return this.poller.start(this.d.pollMs ?? DEFAULT_ERASURE_POLL_MS);
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** every kept forward due now and held by no one: tried once each */
  async poll(): Promise<void> {
    const { store } = this.d;
    for (const index of [this.index(false), this.index(true)]) {
      for (const m of await store.smembers(index)) {
        const id = parseMember(m);
        if (!id) {
          await store.srem(index, m);
          continue;
        }
        await this.retry(id[0], id[1], index);
      }
    }
  }

  private async retry(receiptId: string, processor: string, index: string): Promise<void> {
    const { store, keys, log } = this.d;
    const key = keys.erasureForward(receiptId, processor);
    const lease = keys.erasureForwardLease(receiptId, processor);
    const seen = parseRecord(await store.get(key));
    if (!seen) {
      await store.srem(index, this.member(receiptId, processor));
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
        await store.srem(index, this.member(receiptId, processor));
        return;
      }
      if (rec.nextAt > Date.now()) return;
      const p = this.d.processors.find((x) => x.name === processor);
      const attempts = rec.attempts + 1;
      // a processor removed from PROCESSORS_FILE, or its eraseUrl: nothing can send it
      const out = p?.eraseUrl && p.secret !== undefined ? await this.send(receiptId, processor, rec, p.eraseUrl, p.secret) : undefined;
      if (out?.ok) {
        log.info({ processor, receiptId, status: out.status, retry: attempts }, 'erasure forwarded');
        await this.drop(receiptId, processor);
        this.d.onOutcome?.(processor, 'forwarded');
        return;
      }
      const why = !out ? { reason: 'no-erase-url' } : 'code' in out ? { reason: out.reason, code: out.code } : { status: out.status, reason: out.reason };
      if (!out || attempts >= this.backoff.maxAttempts) {
        log.error({ processor, receiptId, ...why, retries: attempts }, 'erasure forward failed: giving up');
        await this.drop(receiptId, processor);
        this.d.onOutcome?.(processor, 'failed');
        return;
      }
      log.warn({ processor, receiptId, ...why, retry: attempts }, 'erasure forward failed: will retry');
      await store.set(key, JSON.stringify({ ...rec, attempts, nextAt: Date.now() + backoffDelay(attempts + 1, this.backoff) }), ERASURE_RECORD_TTL_SECONDS);
    } finally {
      await store.del(lease);
    }
  }

  /**
   * One try of the kept body, opened first when it is sealed. One that cannot be opened here (its
   * key not in this instance's VAULT_KEYS, the envelope altered) is a failed try, not sent: the
   * code says which, never the body. Opened as the forward the record's key names: an envelope
   * moved to another record's key does not open.
   */
  private async send(
    receiptId: string,
    processor: string,
    rec: PendingErasure,
    url: string,
    secret: string,
  ): Promise<PostOutcome | { ok: false; reason: 'unreadable'; code: string }> {
    let body: string;
    try {
      body = rec.sealed !== undefined ? Vault.open(this.d.vaultKeys, erasureForwardAd(receiptId, processor), rec.sealed) : (rec.body ?? '');
    } catch (e) {
      return { ok: false, reason: 'unreadable', code: errorCode(e) };
    }
    return postSigned(this.d.fetchImpl ?? fetch, url, body, secret, rec.idempotencyKey);
  }

  private async drop(receiptId: string, processor: string): Promise<void> {
    const { store, keys } = this.d;
    await store.multi([
      { op: 'del', key: keys.erasureForward(receiptId, processor) },
      { op: 'srem', key: keys.erasureForwards(), member: this.member(receiptId, processor) },
      { op: 'srem', key: keys.erasureForwardsSealed(), member: this.member(receiptId, processor) },
    ]);
  }
}

/** a kept forward as a subject access report shows it: whose receipt, to which processor, how far along; never its body */
export interface KeptErasure {
  receiptId: string;
  processor: string;
  /** retries made after the forward's own tries */
  attempts: number;
  createdAt: string;
  nextAt: string;
}

function keptView(rec: PendingErasure): KeptErasure {
  return {
    receiptId: rec.receiptId,
    processor: rec.processor,
    attempts: rec.attempts,
    createdAt: new Date(rec.createdAt).toISOString(),
    nextAt: new Date(rec.nextAt).toISOString(),
  };
}

/** what a kept body is sealed to: this receipt's forward to this processor, so no other record's envelope opens in its place */
export function erasureForwardAd(receiptId: string, processor: string): string {
  return JSON.stringify(['tw-erasure-forward', receiptId, processor]);
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
    return r && r.v === 1 && (typeof r.body === 'string' || typeof r.sealed === 'string') ? r : null;
  } catch {
    return null;
  }
}
