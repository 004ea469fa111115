/**
 * Capture records and the one-capture-per-call lock in the store, each with a TTL. Any instance
 * reads a record (GET …/captures/:id); only the instance running the capture writes it.
 */
import type { CallRepository } from '../calls/repository';
import type { Keys, Store } from '../store';
import type { CaptureRecord } from './types';

/** a record stays readable this long after its capture started (agents read results after) */
export const CAPTURE_RECORD_TTL_SECONDS = 60 * 60;

export class CaptureRecords {
  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
  ) {}

  async get(callSid: string, captureId: string): Promise<CaptureRecord | null> {
    const raw = await this.store.get(this.keys.capture(callSid, captureId));
    return raw ? (JSON.parse(raw) as CaptureRecord) : null;
  }

  /** the record and its entry in the call's capture index (erasure removes every record the index names) */
  async save(r: CaptureRecord): Promise<void> {
    await this.store.multi([
      { op: 'set', key: this.keys.capture(r.callSid, r.captureId), value: JSON.stringify(r), ttlSeconds: CAPTURE_RECORD_TTL_SECONDS },
      { op: 'sadd', key: this.keys.captures(r.callSid), member: r.captureId, ttlSeconds: CAPTURE_RECORD_TTL_SECONDS },
    ]);
  }

  /**
   * Saves a capture's final record, then takes it back if the call's record is gone: an erasure
   * of the call that ran meanwhile either removed the record after this save (and swept the
   * capture records then, privacy/service.ts) or before it, and then nothing else would.
   */
  async keep(r: CaptureRecord, calls: Pick<CallRepository, 'get'>): Promise<void> {
    await this.save(r);
    if (!(await calls.get(r.callSid))) await this.forget(r.callSid, r.captureId);
  }

  /** removes the record and its index entry (a capture that outlived its call's record) */
  async forget(callSid: string, captureId: string): Promise<void> {
    await this.store.multi([
      { op: 'del', key: this.keys.capture(callSid, captureId) },
      { op: 'srem', key: this.keys.captures(callSid), member: captureId },
    ]);
  }

  /** every capture id the call has had (those whose records may still be in the store) */
  async idsOf(callSid: string): Promise<string[]> {
    return this.store.smembers(this.keys.captures(callSid));
  }

  /** SET NX of the call's capture lock: false when a capture is already running */
  async lock(callSid: string, captureId: string, ttlSeconds: number): Promise<boolean> {
    return this.store.setIfAbsent(this.keys.captureLock(callSid), captureId, ttlSeconds);
  }

  /**
   * Releases the call's capture lock only if `captureId` holds it: true when this call released
   * it. Compared and deleted in one step (Store.deleteIfEquals): the lock may expire and the
   * call's next capture take it at any moment, and a read then a delete would release that one's.
   */
  unlockIf(callSid: string, captureId: string): Promise<boolean> {
    return this.store.deleteIfEquals(this.keys.captureLock(callSid), captureId);
  }

  /** the capture the call's lock names now; null when none holds it (released, erased or expired) */
  holder(callSid: string): Promise<string | null> {
    return this.store.get(this.keys.captureLock(callSid));
  }
}
