/**
 * Subject access and erasure (CONTRACT §7). Access lists, for each of the caller's calls, its
 * masked fields, the processors it reached, and everything else the store holds of it (held.ts),
 * and the forwards of the caller's erasure still kept for a processor (processors/erase-queue.ts). A caller is found by the HMAC of their identity
 * (`subjectHash`), never by the identity itself: an E.164 number, a SIP address, a Twilio Client
 * identity or another caller ID, in the canonical form their calls are filed under (subject.ts
 * subjectRequest). The index's key is a ring (SUBJECT_KEY, app.ts): new calls are filed under its
 * first key, and a caller is looked up under each, their calls merged, each once, so a rotated
 * key (or SUBJECT_KEY set over the key derived from AGENT_JWT_SECRET) orphans no one; an erasure
 * removes the entries it erased under every key.
 *
 * Erasure removes, for each of the caller's calls (erase-call.ts): every vault value (the fields and the
 * caller's number the record names, and every value the vault's call index names, such as one a
 * second capture of a field replaced), pending and past deliveries, the call record and its
 * index entries, the call's offer, every capture record it had, the media-stream tokens issued
 * for it that Twilio never used (each names the call), and the webhook answers the replay guard
 * remembers for it (the vault index, capture records and stream tokens once more after the record
 * is gone, for a capture that ended meanwhile, and a drop-in result queued meanwhile; a call
 * still in progress is ended first, so it leaves the active calls once, and one with no agent on
 * it has its `call.ended` published, onEnded); then, once
 * no delivery try is still sending the caller's values (to a processor, or a drop-in result to
 * its app), it forwards the erasure to the processors' `eraseUrl`s: each tonewall-protocol one,
 * and each twilio-generic-pay one that a delivery of these calls reached, with the ids it knows
 * them by, read from the delivery records as they are removed (processors/erase.ts). The audit
 * trail stays (it has no personal data and is kept for assessors) and records the erasure. The
 * receipt is returned, not stored: a stored receipt would name the caller.
 *
 * The recordings at Twilio each call record knew of (held.ts recordingSidsOf) are read before the
 * record goes, since afterwards nothing tells which were the caller's, with those the call's trail
 * names (recordings.ts recordingSidsOfTrail: the trail outlives an ended call's record, and the
 * subject index, which lives as long as the vault's values, or with ERASE_RECORDINGS as long as the
 * trail, calls/repository.ts linkTtlSeconds, still lists the call): the receipt names each by
 * its call's SID and its own, and with ERASE_RECORDINGS each is deleted at Twilio once the store's
 * erasure of its call is done (recordings.ts), its outcome on the receipt and in the call's
 * `subject.erased` entry; a failure there stops nothing, and one Twilio does not delete yet (its
 * call still up, or still processed) is `pending`, tried again for a day (recording-queue.ts).
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { publicFields } from '../calls/public-fields';
import type { CallSession } from '../calls/session';
import { Errors, PrivacyErrors } from '../errors';
import { type DeliveryStatus, parseMember, parseRecord, type SentDelivery } from '../processors/records';
import { type ErasureOutcome, forwardErasure } from '../processors/erase';
import type { ErasureQueue, KeptErasure } from '../processors/erase-queue';
import { type Backoff, REQUEST_TIMEOUT_MS } from '../processors/http';
import type { MaskedField } from '../fields';
import { eraseCall, type EraseCallDeps } from './erase-call';
import { heldOfCall, type HeldOfCall } from './held';
import { type RecordingErasure, recordingSidsOfTrail } from './recordings';
import { maskSubject, subjectHash, subjectRequest } from './subject';

/** an erasure of one subject at a time; long enough for forwarding with all its retries */
const ERASURE_LOCK_SECONDS = 5 * 60;
/**
 * How long an erasure waits for a processor delivery already sending the caller's values before
 * it forwards the erasure to the processors: the try's own bound, and a margin for its store
 * round trips. An erasure that reached a processor before those values would leave them there.
 * A drop-in result's POST to its app is waited for as long (its try has the same bound): the
 * receipt is not given while a result of the caller's is still on its way.
 */
export const SENDING_WAIT_MS = REQUEST_TIMEOUT_MS + 2_000;
const SENDING_POLL_MS = 50;

/** the 400's detail: the forms a subject may take (never the text sent, which may be someone's number) */
export const SUBJECT_FORMS =
  'the subject must be an E.164 number, a tel URI, a SIP URI or a Twilio Client identity, or a caller ID as Twilio sent it, URL-encoded (%2B…, tel%3A%2B…, sip%3Auser%40host, client%3Aname)';

/**
 * One call of the caller's. `expired`: its record is gone (an ended call's expires in
 * ENDED_CALL_TTL_SECONDS) while vault values of it are still held, VAULT_TTL_SECONDS being longer,
 * or with ERASE_RECORDINGS while its trail names recordings at Twilio (`recordings`, of `call`);
 * then `values` counts them (the sealed caller among them), `fields` is empty (the masked views
 * were on the record) and `createdAt` is its audit trail's first entry's time.
 */
export interface SubjectCall extends HeldOfCall {
  callSid: string;
  createdAt?: string;
  state: CallSession['state'] | 'expired';
  /** **Added:** `reason`, why a field failed (a fixed code) */
  fields: Record<string, MaskedField & { reason?: string }>;
  values?: number;
  /**
   * The processors the call's values were sent to, or are queued for, as its delivery records
   * say (GDPR Art. 15(1)(c): the recipients): each one's name, status and tries; absent when none.
   */
  deliveries?: { processor: string; status: DeliveryStatus; attempts: number; at?: string; paymentId?: string }[];
}

export interface AccessReport {
  subject: string;
  calls: SubjectCall[];
  /** **Added:** forwards of the caller's erasure a processor has not acknowledged yet, their identity kept sealed until it does */
  erasureForwards?: KeptErasure[];
}

export interface ErasureReceipt {
  receiptId: string;
  subject: string;
  erasedAt: string;
  calls: number;
  values: number;
  deliveriesCancelled: number;
  processors: { name: string; status: ErasureOutcome['status']; httpStatus?: number }[];
  /**
   * **Added:** each recording at Twilio the erased calls' records knew of, by its call's SID and
   * its own (no personal data: the audio is Twilio's, in the operator's account), and what became
   * of it; absent when the calls knew of none
   */
  recordings?: RecordingErasure[];
}

export interface PrivacyServiceDeps extends EraseCallDeps {
  /**
   * the keys of the subject index: the first is the one the app's session code hashes callers
   * with; each is looked up (one store read per key per access or erasure)
   */
  subjectSecret: SubjectSecret | readonly SubjectSecret[];
  /** retry schedule for `eraseUrl` requests (default ERASURE_BACKOFF: 5 tries from 0.5 s) */
  erasureBackoff?: Backoff;
  fetchImpl?: typeof fetch;
  /**
   * each processor's outcome of a forwarded erasure, as it is known (tonewall_erasure_forwards_total):
   * a failed forward must reach the operator, not only the admin holding the receipt
   */
  onForwarded?: (processor: string, status: ErasureOutcome['status']) => void;
  /** keeps each processor's forward until it is acknowledged or given up (processors/erase-queue.ts) */
  erasureQueue?: ErasureQueue;
  /** each try of the erasure's own at deleting a recording at Twilio, by outcome (tonewall_recording_erasures_total) */
  onRecordingErasure?: (status: Exclude<RecordingErasure['status'], 'kept'>) => void;
  /** SENDING_WAIT_MS unless a test shortens it */
  sendingWaitMs?: number;
}

type SubjectSecret = string | Buffer | KeyObject;

export class PrivacyService {
  constructor(private readonly deps: PrivacyServiceDeps) {}

  /**
   * Everything held about the caller, masked. Each call's trail records the access, naming `by`
   * (the admin who asked) as its actor (AuditTrail.actor): the digest, never their `sub`.
   */
  async access(phone: string, by?: { role: string; sub: string }): Promise<AccessReport> {
    const { store, keys, vault } = this.deps;
    const actor = by ? this.deps.audit.actor(by) : undefined;
    const { subjects, named } = this.subjectOf(phone);
    const calls: SubjectCall[] = [];
    for (const sid of (await this.listed(subjects)).keys()) {
      const s = await this.deps.calls.get(sid);
      if (s && (s.subject === undefined || !subjects.includes(s.subject))) continue;
      const deliveries = await this.deliveriesOf(sid);
      const trail = await this.deps.audit.list(sid);
      const held = await heldOfCall({ store, keys, vault }, sid, s, trail);
      // With ERASE_RECORDINGS the caller's link to a call is kept for the recordings its trail names
      // at Twilio (the controller's data, Art. 15): the call is reported while the link is, with them.
      const atTwilio = !s && this.deps.removeRecording ? recordingSidsOfTrail(trail) : [];
      if (atTwilio.length > 0) held.recordings = [{ of: 'call', sids: atTwilio }];
      // a call whose record expired is reported while anything of it but its trail is held
      if (!s && deliveries.length === 0 && !held.sealed && !held.captures && !held.dropin && !held.streamTokens && !held.recordings) continue;
      const call: SubjectCall = s
        ? { callSid: s.callSid, createdAt: new Date(s.createdAt).toISOString(), state: s.state, fields: publicFields(s) }
        : { callSid: sid, ...(trail[0] ? { createdAt: trail[0].at } : {}), state: 'expired', fields: {}, values: held.sealed?.length ?? 0 };
      calls.push({ ...call, ...(deliveries.length > 0 ? { deliveries } : {}), ...held });
      await this.deps.audit.append(sid, { type: 'subject.accessed', actor });
    }
    calls.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
    // an erasure of the caller's whose forward a processor has not acknowledged yet keeps their identity, sealed
    const erasureForwards = (await this.deps.erasureQueue?.keptFor(named)) ?? [];
    return { subject: maskSubject(named), calls, ...(erasureForwards.length > 0 ? { erasureForwards } : {}) };
  }

  /** `by`: the admin who asked, named as each `subject.erased` entry's actor */
  async erase(phone: string, by?: { role: string; sub: string }): Promise<ErasureReceipt> {
    const { store, keys, log } = this.deps;
    const actor = by ? this.deps.audit.actor(by) : undefined;
    const { subjects, named } = this.subjectOf(phone);
    // under the caller's digest by every key it is looked up under: while SUBJECT_KEY's ring is
    // rotated, instances of a deployment have different rings (A; B,A), and each takes the lock
    // under a key the other has too. Two that each take one and miss the other both refuse.
    const locks: string[] = [];
    for (const subject of subjects) {
      const lock = keys.erasure(subject);
      if (await store.setIfAbsent(lock, 'running', ERASURE_LOCK_SECONDS)) {
        locks.push(lock);
        continue;
      }
      for (const taken of locks) await store.del(taken);
      throw Errors.conflict({ detail: 'an erasure of this caller is already running' });
    }
    const receiptId = randomUUID();
    let calls = 0;
    let values = 0;
    let deliveriesCancelled = 0;
    const sending: string[] = [];
    const resultsSending: string[] = [];
    // what of the caller's reached which processor, collected before the records go
    const sent: SentDelivery[] = [];
    const recordings: RecordingErasure[] = [];
    try {
      const listed = await this.listed(subjects);
      for (const sid of listed.keys()) {
        const erased = await eraseCall(this.deps, sid, subjects, receiptId, actor);
        if (erased.found) calls++;
        values += erased.values;
        deliveriesCancelled += erased.deliveriesCancelled;
        sending.push(...erased.sending);
        resultsSending.push(...erased.resultsSending);
        sent.push(...erased.sent);
        recordings.push(...erased.recordings);
      }
      // The entries erased, not the index: a call of the caller's that began while this ran
      // (listed after the read above) stays findable, by access and by the next erasure.
      const entries = [...listed].flatMap(([sid, under]) => under.map((subject) => ({ op: 'srem' as const, key: keys.subject(subject), member: sid })));
      if (entries.length > 0) await store.multi(entries);
    } finally {
      for (const lock of locks) await store.del(lock);
    }
    await this.sent(sending, resultsSending);
    // the canonical form: what tonewall processors were sent as the calls' `subject`
    const outcomes = await forwardErasure(this.deps.processors, { subject: named, sent }, receiptId, {
      backoff: this.deps.erasureBackoff,
      fetchImpl: this.deps.fetchImpl,
      log,
      queue: this.deps.erasureQueue,
    });
    for (const o of outcomes) this.deps.onForwarded?.(o.name, o.status);
    const receipt: ErasureReceipt = {
      receiptId,
      subject: maskSubject(named),
      erasedAt: new Date().toISOString(),
      calls,
      values,
      deliveriesCancelled,
      processors: outcomes.map((o) => ({ name: o.name, status: o.status, ...(o.httpStatus !== undefined ? { httpStatus: o.httpStatus } : {}) })),
      ...(recordings.length > 0 ? { recordings } : {}),
    };
    for (const r of recordings) if (r.status !== 'kept') this.deps.onRecordingErasure?.(r.status);
    const count = (status: RecordingErasure['status']): number => recordings.filter((r) => r.status === status).length;
    const recordingCounts =
      recordings.length > 0
        ? {
            recordings: {
              kept: count('kept'),
              deleted: count('deleted'),
              alreadyGone: count('already-gone'),
              pending: count('pending'),
              failed: count('failed'),
            },
          }
        : {};
    log.info({ receiptId, calls, values, deliveriesCancelled, ...recordingCounts }, 'subject erased');
    return receipt;
  }

  /** the call's delivery records, the configured processors' and any other its index names: no value, no number */
  private async deliveriesOf(callSid: string): Promise<NonNullable<SubjectCall['deliveries']>> {
    const { store, keys, processors } = this.deps;
    const names = new Set(processors.map((p) => p.name));
    for (const m of await store.smembers(keys.deliveries())) {
      const p = parseMember(m);
      if (p && p[0] === callSid) names.add(p[1]);
    }
    const out: NonNullable<SubjectCall['deliveries']> = [];
    for (const name of [...names].sort()) {
      const rec = parseRecord(await store.get(keys.delivery(callSid, name)));
      // when it was last written (queued or tried), and the payment session a round was of; never its HTTP answer
      if (rec) {
        out.push({
          processor: name,
          status: rec.status,
          attempts: rec.attempts,
          at: new Date(rec.updatedAt).toISOString(),
          ...(rec.round ? { paymentId: rec.round } : {}),
        });
      }
    }
    return out;
  }

  /**
   * The calls the index lists under any of `subjects`, each once, with the digests it is listed
   * under: one store read per key of the ring.
   */
  private async listed(subjects: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const subject of subjects) {
      for (const sid of await this.deps.calls.sidsForSubject(subject)) out.set(sid, [...(out.get(sid) ?? []), subject]);
    }
    return out;
  }

  /** `named`: the caller's canonical identity; `subjects`: its HMAC under each key of the ring, the first key's first: their calls' index keys */
  private subjectOf(phone: string): { named: string; subjects: string[] } {
    const r = subjectRequest(phone);
    if ('refused' in r) {
      // no call is filed under it: an answer of "nothing held" would read as if that caller had none
      if (r.refused === 'withheld') throw PrivacyErrors.subjectWithheld();
      throw Errors.badRequest({ detail: SUBJECT_FORMS });
    }
    const ring = Array.isArray(this.deps.subjectSecret) ? (this.deps.subjectSecret as readonly SubjectSecret[]) : [this.deps.subjectSecret as SubjectSecret];
    return { named: r.subject, subjects: [...new Set(ring.map((key) => subjectHash(key, r.subject)))] };
  }

  /**
   * until no try in `leases` (processor deliveries) or `results` (drop-in results) is still
   * sending (a try releases its lease when its request ends), or SENDING_WAIT_MS
   */
  private async sent(leases: string[], results: string[]): Promise<void> {
    const deadline = Date.now() + (this.deps.sendingWaitMs ?? SENDING_WAIT_MS);
    let held = [...leases, ...results];
    while (held.length > 0 && Date.now() < deadline) {
      await sleep(SENDING_POLL_MS);
      const still = await Promise.all(held.map(async (k) => ((await this.deps.store.get(k)) === null ? undefined : k)));
      held = still.filter((k): k is string => k !== undefined);
    }
    if (held.length > 0) {
      const stillResults = held.filter((k) => results.includes(k)).length;
      this.deps.log.warn(
        { deliveries: held.length - stillResults, results: stillResults },
        'delivery still sending after the erasure: forwarding the erasure all the same',
      );
    }
  }
}
