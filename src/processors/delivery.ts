/**
 * Delivery of a call's captured values to each processor (CONTRACT §6): the one place plain
 * values leave the service.
 *
 * - Exactly once per call and processor. A delivery is a small record in the store
 *   (`keys.delivery`, indexed in `keys.deliveries()`), created with SET NX when the processor's
 *   fields are all present and valid; once delivered the record stays (no values in it) so the
 *   delivery is never made again. Every try carries the same `Idempotency-Key` (and, to a
 *   twilio-generic-pay processor, the same `transaction_id`), so a processor also recognises a
 *   repeat after a crash between its answer and our record update.
 * - Never twice at once. Each try first takes a lease (SET NX with expiry); every change to the
 *   record (tries counted, next try time, delivered, failed) is made while holding it. A lease
 *   of a crashed instance expires and another instance's poll takes the delivery over.
 * - A try writes only its own round's record. A new round (a payment session completed again)
 *   replaces the record while the round before may still be in flight; that try's late answer
 *   then changes nothing (record, index, the call's result, the event), is logged, and the new
 *   round is sent once it ends.
 * - Restart-safe. Pending state lives in the store only; `start()` polls the index and resumes.
 * - Values are read from the vault at send time and held only for the request. No log line,
 *   error or record carries a value or the caller's number: logs name the processor, the HTTP
 *   status, the try and a fixed reason.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/trail';
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import { errorCode } from '../errors';
import type { Keys, Store } from '../store';
import type { Vault } from '../vault';
import type { ProcessorConfig } from './config';
import type { ProcessorSummary } from './summary';
import { type Backoff, backoffDelay, checkBackoff, DEFAULT_BACKOFF, REQUEST_TIMEOUT_MS } from './http';
import { type DeliveryResult, deliveryResult, processorOutcome, withOutcome } from './outcome';
import { type NotPrepared, type PreparedTry, prepareTry, type TryOutcome } from './requests';
import {
  cancelDeliveries,
  deliveryIndexMember,
  deliveryRound,
  deliveryLeaseKey,
  type DeliveryRecord,
  deliveryTtlSeconds,
  parseMember,
  parseRecord,
  readyFor,
  roundsSent,
} from './records';

/** longer than one try can take (REQUEST_TIMEOUT_MS plus a few store round trips), so a live holder never loses it */
export const DELIVERY_LEASE_SECONDS = Math.ceil((REQUEST_TIMEOUT_MS * 3) / 1000);
/** how often the index is scanned for deliveries due here or abandoned by a crashed instance */
export const DEFAULT_POLL_MS = 2_000;

export interface ProcessorDeliveryDeps {
  store: Store;
  keys: Keys;
  vault: Vault;
  calls: CallRepository;
  processors: readonly ProcessorConfig[];
  log: Logger;
  onResult: (callSid: string, processor: string, result: DeliveryResult) => void;
  backoff?: Backoff;
  fetchImpl?: typeof fetch;
  /** optional: `processor.delivered` / `processor.failed` entries on the call's trail */
  audit?: AuditTrail;
  pollMs?: number;
}

export class ProcessorDelivery {
  private readonly backoff: Backoff;
  private readonly byName: ReadonlyMap<string, ProcessorConfig>;
  private readonly fetchImpl: typeof fetch;
  private readonly ttlSeconds: number;
  private readonly pollMs: number;
  /** this instance's lease token */
  private readonly owner = randomUUID();
  private started = false;
  private poller?: NodeJS.Timeout;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inflight = new Map<string, Promise<void>>();
  /** deliveries asked to run while a try of theirs was in flight: run again once it ends */
  private readonly again = new Set<string>();

  constructor(private readonly deps: ProcessorDeliveryDeps) {
    this.backoff = checkBackoff(deps.backoff ?? DEFAULT_BACKOFF);
    this.byName = new Map(deps.processors.map((p) => [p.name, p]));
    this.fetchImpl = deps.fetchImpl ?? fetch;
    this.ttlSeconds = deliveryTtlSeconds(deps.vault);
    this.pollMs = deps.pollMs ?? DEFAULT_POLL_MS;
  }

  /**
   * Call after every change to a call's fields. Queues a delivery for each processor whose
   * fields are now complete and valid and that has none yet; sends at once when started.
   */
  async onCallUpdated(session: CallSession): Promise<void> {
    for (const p of this.deps.processors) {
      if (!readyFor(session, p)) continue;
      if (await this.enqueue(session.callSid, p.name, deliveryRound(session))) this.schedule(session.callSid, p.name, Date.now());
    }
  }

  /** Resumes the pending deliveries the store holds and keeps polling for ones due here. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.poll();
    this.poller = setInterval(() => {
      this.poll().catch((e) => this.deps.log.warn({ code: errorCode(e) }, 'processor delivery poll failed'));
    }, this.pollMs);
    this.poller.unref();
  }

  /** Stops scheduling and waits for tries in flight; pending deliveries stay in the store. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inflight.values()]);
  }

  private async enqueue(callSid: string, processor: string, round: string | undefined): Promise<boolean> {
    const key = this.deps.keys.delivery(callSid, processor);
    const existing = await this.deps.store.get(key);
    // one delivery per round: the call's own values once, and each completed payment session once
    const before = parseRecord(existing);
    if (existing !== null && before?.round === round) return false;
    // index first: an index entry without a record is dropped by the next poll, while a record
    // without an index entry would never be resumed after a crash
    await this.deps.store.sadd(this.deps.keys.deliveries(), deliveryIndexMember(callSid, processor), this.ttlSeconds);
    const now = Date.now();
    const rec: DeliveryRecord = {
      v: 1,
      callSid,
      processor,
      status: 'pending',
      attempts: 0,
      nextAt: now,
      createdAt: now,
      updatedAt: now,
      ...(round ? { round } : {}),
      // what the replaced round (and those before it) may have sent: an erasure still names them
      ...(before && roundsSent(before).length > 0 ? { earlier: roundsSent(before).map((r) => r ?? null) } : {}),
    };
    // a new round replaces the record of the one before, only if it is still the one read
    const created =
      existing === null
        ? await this.deps.store.setIfAbsent(key, JSON.stringify(rec), this.ttlSeconds)
        : (await this.deps.store.compareAndSet(key, existing, JSON.stringify(rec), this.ttlSeconds)).ok;
    if (created) this.deps.log.info({ callSid, processor }, 'processor delivery queued');
    return created;
  }

  private async poll(): Promise<void> {
    const { store, keys } = this.deps;
    for (const m of await store.smembers(keys.deliveries())) {
      const p = parseMember(m);
      if (!p) {
        await store.srem(keys.deliveries(), m);
        continue;
      }
      const [callSid, processor] = p;
      const id = m;
      if (this.inflight.has(id) || this.timers.has(id) || !this.byName.has(processor)) continue;
      const rec = parseRecord(await store.get(keys.delivery(callSid, processor)));
      if (!rec || rec.status !== 'pending') {
        await store.srem(keys.deliveries(), m);
        continue;
      }
      this.schedule(callSid, processor, rec.nextAt);
    }
  }

  private schedule(callSid: string, processor: string, atMs: number): void {
    if (!this.started) return;
    const id = deliveryIndexMember(callSid, processor);
    const old = this.timers.get(id);
    if (old) clearTimeout(old);
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        this.run(callSid, processor);
      },
      Math.max(0, atMs - Date.now()),
    );
    t.unref();
    this.timers.set(id, t);
  }

  private run(callSid: string, processor: string): void {
    const id = deliveryIndexMember(callSid, processor);
    // a new round queued while the try before it is in flight is not dropped: it runs after it
    if (this.inflight.has(id)) {
      this.again.add(id);
      return;
    }
    const p = this.attempt(callSid, processor)
      .catch((e) => this.deps.log.error({ callSid, processor, code: errorCode(e) }, 'processor delivery try failed to run'))
      .finally(() => {
        this.inflight.delete(id);
        if (this.again.delete(id)) this.schedule(callSid, processor, Date.now());
      });
    this.inflight.set(id, p);
  }

  private async attempt(callSid: string, name: string): Promise<void> {
    const processor = this.byName.get(name);
    if (!processor) return;
    const { store, keys } = this.deps;
    const lease = deliveryLeaseKey(keys, callSid, name);
    // another instance is trying it now: its outcome reschedules it, or its lease expires and a poll takes over
    if (!(await store.setIfAbsent(lease, this.owner, DELIVERY_LEASE_SECONDS))) return;
    try {
      await this.attemptLeased(callSid, processor);
    } finally {
      // the lease outlives any try by a wide margin, so it is still ours to release
      await store.del(lease);
    }
  }

  private async attemptLeased(callSid: string, processor: ProcessorConfig): Promise<void> {
    const { store, keys, log } = this.deps;
    const rec = parseRecord(await store.get(keys.delivery(callSid, processor.name)));
    if (!rec || rec.status !== 'pending') {
      await store.srem(keys.deliveries(), deliveryIndexMember(callSid, processor.name));
      return;
    }
    if (rec.nextAt > Date.now()) return this.schedule(callSid, processor.name, rec.nextAt);

    const session = await this.deps.calls.get(callSid);
    if (!session) {
      // expired or erased: nothing to send, nobody to tell
      await cancelDeliveries(store, keys, callSid, [processor.name]);
      log.warn({ callSid, processor: processor.name }, 'processor delivery dropped: the call is gone');
      return;
    }

    // the call's values now belong to another round (a new payment session opened, or completed,
    // since this delivery was queued): these are not the values it was for
    if (rec.round !== deliveryRound(session)) return this.finish(rec, session, 'failed', { reason: 'superseded' });

    const attempts = rec.attempts + 1;
    let outcome: TryOutcome;
    {
      // the plain values live in this block only, for this one try (requests.ts)
      let prepared: PreparedTry | NotPrepared;
      try {
        prepared = await prepareTry(this.deps, session, processor);
      } catch (e) {
        return this.finish(rec, session, 'failed', { reason: 'vault-error', code: errorCode(e) });
      }
      if ('failed' in prepared) return this.finish(rec, session, 'failed', { reason: prepared.failed });
      // count the try before it leaves: a crash mid-request still uses one up
      const counted = await this.write({ ...rec, attempts, updatedAt: Date.now() }, session);
      if (counted === 'superseded') return this.superseded(rec, 'not-sent');
      if (counted === 'gone') return;
      outcome = await prepared.send(this.fetchImpl);
    }

    if (outcome.ok) {
      log.info({ callSid, processor: processor.name, status: outcome.status, attempt: attempts }, 'processor delivery accepted');
      return this.finish({ ...rec, attempts }, session, 'delivered', { httpStatus: outcome.status, answer: outcome.body });
    }
    if (outcome.final || attempts >= this.backoff.maxAttempts) {
      return this.finish({ ...rec, attempts }, session, 'failed', { httpStatus: outcome.status, reason: outcome.reason, answer: outcome.body });
    }
    const delay = backoffDelay(attempts, this.backoff);
    log.warn(
      { callSid, processor: processor.name, status: outcome.status, reason: outcome.reason, attempt: attempts, retryInMs: delay },
      'processor delivery failed: will retry',
    );
    const nextAt = Date.now() + delay;
    const kept = await this.write({ ...rec, attempts, nextAt, updatedAt: Date.now(), httpStatus: outcome.status, reason: outcome.reason }, session);
    if (kept === 'superseded') return this.superseded({ ...rec, attempts }, 'retry', outcome.status);
    if (kept === 'written') this.schedule(callSid, processor.name, nextAt);
  }

  /**
   * A try whose record a newer round replaced meanwhile (a payment session completed again while
   * its request was in flight): its outcome is not this delivery's any more, so it changes nothing
   * (no record, no index, no result on the call, no event), and the newer round, which may have
   * been asked to run while this try held the lease, runs once this try ends. Logged without values.
   */
  private superseded(rec: DeliveryRecord, outcome: 'delivered' | 'failed' | 'retry' | 'not-sent', httpStatus?: number): void {
    this.deps.log.warn(
      { callSid: rec.callSid, processor: rec.processor, outcome, status: httpStatus, attempts: rec.attempts },
      'processor delivery outcome dropped: a newer round replaced its record',
    );
    this.again.add(deliveryIndexMember(rec.callSid, rec.processor));
  }

  private async audit(rec: DeliveryRecord, type: string, info: { httpStatus?: number; reason?: string }): Promise<void> {
    await this.deps.audit
      ?.append(rec.callSid, { type, processor: rec.processor, httpStatus: info.httpStatus, reason: info.reason, attempts: rec.attempts })
      .catch((e) => this.deps.log.warn({ callSid: rec.callSid, code: errorCode(e) }, 'audit append failed'));
  }

  /**
   * Writes the record unless it was removed meanwhile (erasure: 'gone') or a newer round replaced
   * it ('superseded', enqueue); 'written' when written. With it, the call's subject index entry is
   * renewed (its TTL is the record's): a try may write after the call record's last write, and
   * erasure finds the record only through that index.
   */
  private async write(rec: DeliveryRecord, session: CallSession): Promise<'written' | 'gone' | 'superseded'> {
    let written: 'written' | 'gone' | 'superseded' = 'gone';
    await this.deps.store.update(
      this.deps.keys.delivery(rec.callSid, rec.processor),
      (cur) => {
        // run again on what won when another writer changed the record first: removed meanwhile,
        // or replaced by a newer round's (compare-and-set on the round), not written
        if (cur === null) {
          written = 'gone';
          return undefined;
        }
        const now = parseRecord(cur);
        if (now && now.round !== rec.round) {
          written = 'superseded';
          return undefined;
        }
        written = 'written';
        return JSON.stringify(rec);
      },
      this.ttlSeconds,
      { with: () => this.deps.calls.subjectIndexOps(session) },
    );
    return written;
  }

  private async finish(
    rec: DeliveryRecord,
    session: CallSession,
    status: 'delivered' | 'failed',
    info: { httpStatus?: number; reason?: string; code?: string; answer?: ProcessorSummary },
  ): Promise<void> {
    const { store, keys, log } = this.deps;
    const done: DeliveryRecord = { ...rec, status, updatedAt: Date.now(), httpStatus: info.httpStatus, reason: info.reason };
    // a newer round's record is left as it is, and so are its index entry, the call's result and the panels
    if ((await this.write(done, session)) === 'superseded') {
      // the processor answered a round no longer the call's: it may have charged it, so the trail says so
      await this.audit(rec, `processor.${status}`, { httpStatus: info.httpStatus, reason: 'superseded' });
      return this.superseded(rec, status, info.httpStatus);
    }
    await store.srem(keys.deliveries(), deliveryIndexMember(rec.callSid, rec.processor));
    if (status === 'failed') {
      log.error(
        { callSid: rec.callSid, processor: rec.processor, status: info.httpStatus, reason: info.reason, code: info.code, attempts: rec.attempts },
        'processor delivery failed: giving up',
      );
    }
    await this.audit(rec, `processor.${status}`, { httpStatus: info.httpStatus, reason: info.reason });
    const result = deliveryResult(rec, status, info);
    await this.keepOutcome(rec, result);
    try {
      this.deps.onResult(rec.callSid, rec.processor, result);
    } catch (e) {
      log.error({ callSid: rec.callSid, processor: rec.processor, code: errorCode(e) }, 'processor result handler threw');
    }
  }

  /**
   * The outcome on the call's record, replacing the processor's one before (an earlier payment
   * round's), so a panel that reloads reads what `processor.result` told it (agents/views.ts).
   * Written before the event goes out: a panel that re-reads the call after the event sees it.
   * A call gone (ended and expired, or erased) keeps nothing; a store that fails is logged, and
   * the event still goes. What is kept, and what is not (a gateway's card token), is outcome.ts's.
   */
  private async keepOutcome(rec: DeliveryRecord, result: DeliveryResult): Promise<void> {
    const outcome = processorOutcome(rec.processor, result, Date.now());
    await this.deps.calls
      .update(rec.callSid, (s) => {
        s.processorResults = withOutcome(s.processorResults, outcome);
      })
      .catch((e) => this.deps.log.warn({ callSid: rec.callSid, processor: rec.processor, code: errorCode(e) }, 'processor result not kept on the call'));
  }
}

/** a coded error's code, or the error's class name: never its message, which could hold anything */
