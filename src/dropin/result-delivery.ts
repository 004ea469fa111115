/**
 * A drop-in result POSTed server to server to the app's return URL (the caller hung up: there is
 * no call to redirect), delivered as processors/delivery.ts delivers to a processor:
 *
 * - Exactly once per call. A delivery is a record in the store (`keys.dropinResult`), created
 *   with its index entry (`keys.dropinResults()`) only if the call has none; once delivered, or
 *   given up, the record stays without its parameters, so a second report of the same hang-up
 *   (the status callback after a poll, a watch a stopped instance left) is not made.
 * - Never twice at once. Each try takes a lease (`keys.dropinResultLease`, SET NX with expiry)
 *   and makes every change to the record while holding it.
 * - Restart-safe. Pending deliveries live in the store only: any instance's scan takes up one a
 *   stopped instance left, at its next try's time, with the tries it used counted.
 * - No value in it: the parameters are the result's (outcome.ts resultParams: masked views,
 *   validity, last4, brand, failure reasons and vault tokens), signed at send time. Logs name the
 *   call, the try and a fixed reason, never the URL or a parameter.
 * - Sent only under CAPTURE_RETURN_URLS. The URL is the record's, read from the store at each
 *   try, and checked against the list again before anything leaves: a record written by anyone
 *   but an instance (Redis is a trust boundary) could otherwise have this service POST, signed,
 *   to any address it reaches (an internal one, or the writer's own); the list changed since it
 *   was queued is honoured too. One not under it is given up, never sent.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CALL_TTL_SECONDS } from '../calls/session';
import { errFields } from '../log';
import { DELIVERY_LEASE_SECONDS } from '../processors/delivery';
import { backoffDelay, checkBackoff, DEFAULT_BACKOFF, REQUEST_TIMEOUT_MS, type Backoff } from '../processors/http';
import type { AuditSink } from '../recording/controller';
import type { Keys, Store } from '../store';
import { DueWork } from './due-work';
import { RESULT_SIGNATURE_HEADER, returnParams, signResult } from './result-signature';
import { allowedReturnUrl } from './return-urls';

/**
 * A pending record outlives its tries by far (minutes with the default backoff); a finished one
 * stays as long as the call's record could report the hang-up again.
 */
export const RESULT_TTL_SECONDS = CALL_TTL_SECONDS;
/** how often this instance scans for deliveries left by a stopped instance */
export const RESULT_SCAN_MS = 2_000;

const resultRecord = z.object({
  v: z.literal(1),
  callSid: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  /** the app's return URL and the result's parameters: pending records only */
  url: z.string().optional(),
  params: z.record(z.string(), z.string()).optional(),
  attempts: z.number(),
  /** epoch ms of the next try (pending) */
  nextAt: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
  reason: z.string().optional(),
});
type ResultRecord = z.infer<typeof resultRecord>;

type TryOutcome = { ok: true; status: number } | { ok: false; reason: string; err?: unknown };

export interface ResultDeliveryDeps {
  store: Store;
  keys: Keys;
  audit: AuditSink;
  log: Logger;
  /** CAPTURE_RESULT_SECRET, read at send time */
  secret: () => string;
  /** CAPTURE_RETURN_URLS: a record's URL is sent to only when it is under one (return-urls.ts) */
  returnUrls: readonly string[];
  backoff?: Backoff;
  fetchImpl?: typeof fetch;
  scanMs?: number;
  /**
   * This instance returned the call to the app itself and the store does not know it yet
   * (dropin/unsaved-returns.ts): its hang-up result, queued by an instance that could not know,
   * contradicts the result the app has, and is withdrawn instead of sent.
   */
  returned?: (callSid: string) => boolean;
  /**
   * Whether the call's record is still there. Asked before a result's first try only: the
   * caller's erasure removes a result already queued (again once the record is gone, and waits
   * for a try holding its lease), but one queued just after it (the call's record read before
   * the erasure, the report written after) would otherwise go out. Later tries do not ask: a
   * record ended long ago may have expired (ENDED_CALL_TTL_SECONDS) while a delivery still
   * retries; a result with tries left when its caller was erased is removed by the erasure.
   */
  callExists?: (callSid: string) => Promise<boolean>;
}

export class ResultDelivery {
  private readonly backoff: Backoff;
  private readonly due: DueWork;
  /** this instance's lease token */
  private readonly owner = randomUUID();

  constructor(private readonly d: ResultDeliveryDeps) {
    this.backoff = checkBackoff(d.backoff ?? DEFAULT_BACKOFF);
    this.due = new DueWork(
      (callSid) => this.attempt(callSid),
      (callSid, err) => d.log.warn({ callSid, err: errFields(err) }, 'drop-in result try failed to run'),
    );
  }

  /** queues the result's POST; false when the call's result was queued before (it is never sent twice) */
  async enqueue(callSid: string, url: string, params: Record<string, string>): Promise<boolean> {
    const { store, keys } = this.d;
    const now = Date.now();
    const rec: ResultRecord = { v: 1, callSid, status: 'pending', url, params, attempts: 0, nextAt: now, createdAt: now, updatedAt: now };
    const index = { op: 'sadd' as const, key: keys.dropinResults(), member: callSid, ttlSeconds: RESULT_TTL_SECONDS };
    const res = await store.createWith(keys.dropinResult(callSid), JSON.stringify(rec), RESULT_TTL_SECONDS, [index]);
    if (res.created) this.due.at(callSid, now);
    return res.created;
  }

  /** takes up the pending deliveries in the store (those a stopped instance left too) and keeps scanning */
  async start(): Promise<void> {
    await this.due.start(
      () => this.scan(),
      this.d.scanMs ?? RESULT_SCAN_MS,
      (err) => this.d.log.warn({ err: errFields(err) }, 'drop-in result scan failed'),
    );
  }

  /** stops scheduling and waits for tries in flight; pending deliveries stay in the store */
  async stop(): Promise<void> {
    await this.due.stop();
  }

  private async scan(): Promise<void> {
    const { store, keys } = this.d;
    for (const callSid of await store.smembers(keys.dropinResults())) {
      if (this.due.holds(callSid)) continue;
      const rec = parseResult(await store.get(keys.dropinResult(callSid)));
      if (rec?.status === 'pending') this.due.at(callSid, rec.nextAt);
      else await store.srem(keys.dropinResults(), callSid);
    }
  }

  private async attempt(callSid: string): Promise<void> {
    const { store, keys } = this.d;
    const lease = keys.dropinResultLease(callSid);
    // another instance is trying it now: its outcome reschedules it, or its lease expires and a scan takes over
    if (!(await store.setIfAbsent(lease, this.owner, DELIVERY_LEASE_SECONDS))) return;
    try {
      await this.attemptLeased(callSid);
    } finally {
      // the lease outlives any try by a wide margin (three request timeouts), so it is still ours
      await store.del(lease);
    }
  }

  private async attemptLeased(callSid: string): Promise<void> {
    const { store, keys, log } = this.d;
    const rec = parseResult(await store.get(keys.dropinResult(callSid)));
    if (rec?.status !== 'pending' || rec.url === undefined || rec.params === undefined) {
      // delivered or given up meanwhile, or erased
      await store.srem(keys.dropinResults(), callSid);
      return;
    }
    if (this.d.returned?.(callSid)) return this.withdrawLeased(rec);
    if (!allowedReturnUrl(rec.url, this.d.returnUrls)) {
      // not a URL this service queued (the record was written by another hand), or one taken off the list since
      log.error({ callSid, attempts: rec.attempts }, 'drop-in result not sent: its URL is not under CAPTURE_RETURN_URLS');
      await this.finish(rec, rec.attempts, 'failed', 'return-url-not-allowed');
      await this.d.audit
        .append(callSid, { type: 'dropin.result-undelivered', attempts: rec.attempts, reason: 'return-url-not-allowed' })
        .catch((e: unknown) => log.warn({ callSid, err: errFields(e) }, 'drop-in audit entry not written'));
      return;
    }
    if (rec.nextAt > Date.now()) return this.due.at(callSid, rec.nextAt);
    if (rec.attempts === 0 && this.d.callExists && !(await this.d.callExists(callSid))) {
      // queued as the caller was erased: it goes as everything else of theirs did
      await store.multi([
        { op: 'del', key: keys.dropinResult(callSid) },
        { op: 'srem', key: keys.dropinResults(), member: callSid },
      ]);
      log.warn({ callSid }, 'drop-in result dropped: the call was erased before its first try');
      return;
    }
    // read before the try is counted: without it there is no try to count (the run fails, logged)
    const secret = this.d.secret();
    const attempt = rec.attempts + 1;
    // count the try before it leaves: a stop mid-request still uses one up
    if (!(await this.write({ ...rec, attempts: attempt, updatedAt: Date.now() }))) return;
    const outcome = await this.send(rec.url, rec.params, secret);
    if (outcome.ok) {
      log.info({ callSid, attempt, status: outcome.status }, 'drop-in result delivered to the app');
      return this.finish(rec, attempt, 'delivered');
    }
    const err = outcome.err === undefined ? {} : { err: errFields(outcome.err) };
    if (attempt >= this.backoff.maxAttempts) {
      log.error({ callSid, attempt, reason: outcome.reason, ...err }, 'drop-in result not delivered: giving up');
      await this.finish(rec, attempt, 'failed', outcome.reason);
      await this.d.audit
        .append(callSid, { type: 'dropin.result-undelivered', attempts: attempt })
        .catch((e: unknown) => log.warn({ callSid, err: errFields(e) }, 'drop-in audit entry not written'));
      return;
    }
    const delay = backoffDelay(attempt, this.backoff);
    log.warn({ callSid, attempt, reason: outcome.reason, retryInMs: delay, ...err }, 'drop-in result delivery failed: will retry');
    const nextAt = Date.now() + delay;
    if (await this.write({ ...rec, attempts: attempt, nextAt, updatedAt: Date.now(), reason: outcome.reason })) this.due.at(callSid, nextAt);
  }

  /**
   * The app had the call back with another result before this one was queued (a return saved
   * late, dropin/unsaved-returns.ts): a pending POST is never sent. False while another instance
   * holds the try (it may be sending it now): ask again once it is done.
   */
  async withdraw(callSid: string): Promise<boolean> {
    const { store, keys } = this.d;
    const lease = keys.dropinResultLease(callSid);
    if (!(await store.setIfAbsent(lease, this.owner, DELIVERY_LEASE_SECONDS))) return false;
    try {
      const rec = parseResult(await store.get(keys.dropinResult(callSid)));
      if (rec?.status === 'pending') await this.withdrawLeased(rec);
      return true;
    } finally {
      await store.del(lease);
    }
  }

  private async withdrawLeased(rec: ResultRecord): Promise<void> {
    this.due.cancel(rec.callSid);
    this.d.log.warn({ callSid: rec.callSid, attempts: rec.attempts }, 'drop-in result withdrawn: the app had the call back with internal-error');
    await this.finish(rec, rec.attempts, 'failed', 'withdrawn');
  }

  /** the result, form-encoded and signed over the body's parameters (the return URL's own query included) */
  private async send(url: string, result: Record<string, string>, secret: string): Promise<TryOutcome> {
    // the body carries the same set a redirect's query would
    const params = returnParams(url, result);
    let res: Response;
    try {
      res = await (this.d.fetchImpl ?? fetch)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', [RESULT_SIGNATURE_HEADER]: signResult(params, secret) },
        body: new URLSearchParams(params).toString(),
        redirect: 'error',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      return { ok: false, reason: err instanceof Error && err.name === 'TimeoutError' ? 'timeout' : 'network', err };
    }
    // only the status matters; a body that cannot be cancelled is already gone
    await res.body?.cancel().catch(() => undefined);
    return res.status >= 200 && res.status < 300 ? { ok: true, status: res.status } : { ok: false, reason: `http ${res.status}` };
  }

  /** writes the record unless it was removed meanwhile (erasure); true when written */
  private async write(rec: ResultRecord): Promise<boolean> {
    let written = false;
    await this.d.store.update(
      this.d.keys.dropinResult(rec.callSid),
      (cur) => {
        // run again on what won when another writer changed the record first: removed meanwhile,
        // or removed and queued afresh (the caller erased as this try ran, then a hang-up report
        // that read the call before the erasure), not written: a fresh result made a retry of
        // this one would skip its first try's check that the call is still there
        written = cur !== null && parseResult(cur)?.createdAt === rec.createdAt;
        if (!written) return undefined;
        return JSON.stringify(rec);
      },
      RESULT_TTL_SECONDS,
    );
    return written;
  }

  /** done: the record keeps only that it was (so it is never sent again), not what it carried */
  private async finish(rec: ResultRecord, attempts: number, status: 'delivered' | 'failed', reason?: string): Promise<void> {
    const { url: _url, params: _params, reason: _lastFailure, ...kept } = rec;
    // a fresh result queued in its place keeps its index entry
    if (!(await this.write({ ...kept, status, attempts, updatedAt: Date.now(), ...(reason ? { reason } : {}) }))) return;
    await this.d.store.srem(this.d.keys.dropinResults(), rec.callSid);
  }
}

function parseResult(raw: string | null): ResultRecord | null {
  if (raw === null) return null;
  try {
    const parsed = resultRecord.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    // not JSON: not a record this code wrote
    return null;
  }
}
