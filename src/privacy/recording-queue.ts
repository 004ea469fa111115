/**
 * Deletions of an erased caller's recordings at Twilio that Twilio did not take yet (ERASE_RECORDINGS;
 * recordings.ts), kept in the store and tried again until they are done or RECORDING_RETRY_WINDOW_MS
 * has passed. Twilio deletes only a recording it has finished with: one of a call still up (an
 * erasure does not hang up) or still being processed after its call is refused, so the erasure's
 * own try comes back with a "not yet" and the receipt names the recording `pending`.
 *
 * The mechanics are the erasure-forward queue's (processors/erase-queue.ts): one record per
 * recording and an index of them, a lease per record so that one instance tries it at a time
 * (read again under the lease), each instance polling the index, the retry schedule of
 * processors/http.ts. Its records are not that queue's: a forward is a signed POST to a processor,
 * keyed by receipt and processor; this is a Twilio REST call, keyed by recording.
 *
 * A record keeps as little as it can: the account and recording SIDs (no personal data: the audio
 * is Twilio's, in the operator's account), the receipt it belongs to, its tries and next try, and
 * the call's SID sealed with the vault's key ring (VAULT_KEYS, bound to the recording), since
 * after an erasure nothing in the store but the call's audit trail may name the call (CONTRACT §7);
 * it is opened only to append the outcome to that trail. Each outcome that settles a record (deleted,
 * already gone, given up) is appended to the call's trail as `subject.recording-erased`, as the
 * first try's is in its `subject.erased` entry; the tries between are logged.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/trail';
import { errorCode } from '../errors';
import { type Backoff, backoffDelay, checkBackoff } from '../processors/http';
import type { Keys, Store } from '../store';
import { Poller } from '../store/poller';
import { type KeyRing, Vault } from '../vault';
import type { RecordingErasure, RecordingRemover } from './recordings';

/** from a minute, doubling to an hour: about 30 tries in RECORDING_RETRY_WINDOW_MS */
export const RECORDING_RETRY_BACKOFF: Readonly<Backoff> = Object.freeze({ baseMs: 60_000, maxMs: 3_600_000, maxAttempts: 40 });
/**
 * How long a deletion is tried: a day. A recording is deletable once its call is over and Twilio
 * has processed it (seconds to minutes; a call lasts at most CALL_TTL_SECONDS, 4 h, to the service).
 */
export const RECORDING_RETRY_WINDOW_MS = 24 * 3600 * 1000;
/** longer than the retries can take */
export const RECORDING_RECORD_TTL_SECONDS = 2 * 24 * 3600;
/** longer than one try (the REST client's bound, 5 s, and a 429 tried again) and its store writes */
export const RECORDING_LEASE_SECONDS = 60;
export const DEFAULT_RECORDING_POLL_MS = 15_000;

/** a deletion Twilio has not taken yet: no personal data, the call's SID sealed */
export interface PendingRecordingErasure {
  v: 1;
  accountSid: string;
  recordingSid: string;
  /** the call's SID, `Vault.seal`ed (recordingErasureAd) */
  call: string;
  receiptId: string;
  /** tries made, the erasure's own included */
  attempts: number;
  nextAt: number;
  createdAt: number;
}

export interface RecordingErasureQueueDeps {
  store: Store;
  keys: Keys;
  /** the vault's key ring (VAULT_KEYS): seals the call's SID */
  vaultKeys: KeyRing;
  /** TWILIO_ACCOUNT_SID: the account `remove` deletes in; a record of another is not tried */
  accountSid: string;
  remove: RecordingRemover;
  audit: AuditTrail;
  log: Logger;
  backoff?: Backoff;
  windowMs?: number;
  pollMs?: number;
  /** a kept deletion settled: deleted (or found gone) or given up */
  onOutcome?: (status: 'deleted' | 'already-gone' | 'failed') => void;
}

export class RecordingErasureQueue {
  private readonly backoff: Backoff;
  private readonly owner = randomUUID();
  private readonly poller = new Poller(
    () => this.poll(),
    (e) => this.d.log.warn({ code: errorCode(e) }, 'recording erasure poll failed'),
  );

  constructor(private readonly d: RecordingErasureQueueDeps) {
    this.backoff = checkBackoff(d.backoff ?? RECORDING_RETRY_BACKOFF);
  }

  /** kept after the erasure's own try (`first`) failed: tried again from the schedule's first pause */
  async keep(callSid: string, recordingSid: string, receiptId: string): Promise<void> {
    const { store, keys } = this.d;
    const now = Date.now();
    const rec: PendingRecordingErasure = {
      v: 1,
      accountSid: this.d.accountSid,
      recordingSid,
      call: Vault.seal(this.d.vaultKeys, recordingErasureAd(recordingSid), callSid),
      receiptId,
      attempts: 1,
      nextAt: now + backoffDelay(1, this.backoff),
      createdAt: now,
    };
    await store.multi([
      { op: 'sadd', key: keys.recordingErasures(), member: recordingSid, ttlSeconds: RECORDING_RECORD_TTL_SECONDS },
      { op: 'set', key: keys.recordingErasure(recordingSid), value: JSON.stringify(rec), ttlSeconds: RECORDING_RECORD_TTL_SECONDS },
    ]);
  }

  /** takes up the kept deletions now, then polls for them */
  start(): Promise<void> {
    return this.poller.start(this.d.pollMs ?? DEFAULT_RECORDING_POLL_MS);
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** every kept deletion due now and held by no one: tried once each */
  async poll(): Promise<void> {
    for (const sid of await this.d.store.smembers(this.d.keys.recordingErasures())) await this.retry(sid);
  }

  private async retry(recordingSid: string): Promise<void> {
    const { store, keys, log } = this.d;
    const key = keys.recordingErasure(recordingSid);
    const lease = keys.recordingErasureLease(recordingSid);
    const seen = parseRecord(await store.get(key));
    if (!seen) {
      await store.srem(keys.recordingErasures(), recordingSid);
      return;
    }
    if (seen.nextAt > Date.now()) return;
    if (!(await store.setIfAbsent(lease, this.owner, RECORDING_LEASE_SECONDS))) return;
    try {
      // read again under the lease: another instance may have settled or rescheduled it meanwhile
      const rec = parseRecord(await store.get(key));
      if (!rec) {
        await store.srem(keys.recordingErasures(), recordingSid);
        return;
      }
      if (rec.nextAt > Date.now()) return;
      const attempts = rec.attempts + 1;
      // a record of another account (TWILIO_ACCOUNT_SID changed) cannot be deleted with this client: a failed try;
      // the remover answers every outcome itself, and a throw all the same is a failed try too
      const out =
        rec.accountSid === this.d.accountSid ? await this.d.remove(recordingSid).catch(() => ({ status: 'failed' as const })) : { status: 'failed' as const };
      const answer = { httpStatus: 'httpStatus' in out ? out.httpStatus : undefined, code: 'code' in out ? out.code : undefined };
      if (out.status === 'failed' && attempts < this.backoff.maxAttempts && Date.now() < rec.createdAt + (this.d.windowMs ?? RECORDING_RETRY_WINDOW_MS)) {
        log.info({ recordingSid, receiptId: rec.receiptId, ...answer, retry: attempts }, 'recording of an erased call not deleted at Twilio yet: will retry');
        await store.set(key, JSON.stringify({ ...rec, attempts, nextAt: Date.now() + backoffDelay(attempts, this.backoff) }), RECORDING_RECORD_TTL_SECONDS);
        return;
      }
      if (out.status === 'failed')
        log.error({ recordingSid, receiptId: rec.receiptId, ...answer, tries: attempts }, 'recording of an erased call not deleted at Twilio: giving up');
      else log.info({ recordingSid, receiptId: rec.receiptId, status: out.status, tries: attempts }, 'recording of an erased call deleted at Twilio');
      await this.settled(rec, out.status, answer, attempts);
      await store.multi([
        { op: 'del', key },
        { op: 'srem', key: keys.recordingErasures(), member: recordingSid },
      ]);
      this.d.onOutcome?.(out.status);
    } finally {
      await store.del(lease);
    }
  }

  /** the outcome, in the call's trail (the SIDs, Twilio's answer, the tries): what the erasure's entry says of the first try */
  private async settled(
    rec: PendingRecordingErasure,
    status: Exclude<RecordingErasure['status'], 'kept' | 'pending'>,
    answer: { httpStatus?: number; code?: number },
    tries: number,
  ): Promise<void> {
    let callSid: string;
    try {
      callSid = Vault.open(this.d.vaultKeys, recordingErasureAd(rec.recordingSid), rec.call);
    } catch (e) {
      // its key gone from VAULT_KEYS: the deletion stands, only its trail entry is missing
      this.d.log.warn(
        { recordingSid: rec.recordingSid, receiptId: rec.receiptId, code: errorCode(e) },
        'recording erasure outcome not audited: its call unreadable',
      );
      return;
    }
    await this.d.audit
      .append(callSid, {
        type: 'subject.recording-erased',
        receiptId: rec.receiptId,
        recordingSid: rec.recordingSid,
        outcome: status,
        tries,
        ...definedAnswer(answer),
      })
      .catch((e: unknown) =>
        // the deletion is done (or given up) whatever the trail says; its record goes all the same
        this.d.log.error({ callSid, recordingSid: rec.recordingSid, code: errorCode(e) }, 'audit append failed after a recording erasure'),
      );
  }

  /** the kept deletions, for a test or an operator: recording SID, tries, next try; never the call */
  async kept(): Promise<{ recordingSid: string; receiptId: string; attempts: number; nextAt: string }[]> {
    const out: { recordingSid: string; receiptId: string; attempts: number; nextAt: string }[] = [];
    for (const sid of await this.d.store.smembers(this.d.keys.recordingErasures())) {
      const rec = parseRecord(await this.d.store.get(this.d.keys.recordingErasure(sid)));
      if (rec) out.push({ recordingSid: rec.recordingSid, receiptId: rec.receiptId, attempts: rec.attempts, nextAt: new Date(rec.nextAt).toISOString() });
    }
    return out;
  }
}

/** what a record's call SID is sealed to: this recording's deletion, so no other record's envelope opens in its place */
export function recordingErasureAd(recordingSid: string): string {
  return JSON.stringify(['tw-recording-erasure', recordingSid]);
}

function definedAnswer(a: { httpStatus?: number; code?: number }): { httpStatus?: number; code?: number } {
  return { ...(a.httpStatus !== undefined ? { httpStatus: a.httpStatus } : {}), ...(a.code !== undefined ? { code: a.code } : {}) };
}

function parseRecord(raw: string | null): PendingRecordingErasure | null {
  if (raw === null) return null;
  try {
    const r = JSON.parse(raw) as PendingRecordingErasure;
    return r && r.v === 1 && typeof r.recordingSid === 'string' && typeof r.call === 'string' ? r : null;
  } catch {
    return null;
  }
}
