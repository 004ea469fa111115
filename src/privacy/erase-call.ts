/**
 * The erasure of one of the subject's calls (PrivacyService.erase; the whole order is in
 * service.ts's header): its vault values, deliveries, record, offer, captures, stream tokens,
 * drop-in watch and result, replay answers, swept again once the record is gone, then the
 * recordings at Twilio and the call's `subject.erased` entry.
 */
import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/trail';
import type { CallRepository } from '../calls/repository';
import { endSession, type CallSession } from '../calls/session';
import { isTonewallError } from '../errors';
import { errFields } from '../log';
import type { ProcessorConfig } from '../processors/config';
import { cancelDeliveries, type SentDelivery } from '../processors/records';
import type { Keys, Store, StoreOp } from '../store';
import { isVaultToken, type Vault } from '../vault';
import { recordingSidsOf } from './held';
import type { RecordingErasureQueue } from './recording-queue';
import { eraseRecordings, type RecordingErasure, type RecordingRemover, recordingsEntry, recordingSidsOfTrail } from './recordings';

export interface EraseCallDeps {
  calls: CallRepository;
  vault: Vault;
  audit: AuditTrail;
  store: Store;
  keys: Keys;
  processors: readonly ProcessorConfig[];
  /** the webhook answers remembered per call (twilio/replay.ts) */
  replay: { forget(callSid: string): Promise<void> };
  log: Logger;
  /**
   * an erased call was still in progress: it leaves the active calls here, as no status
   * callback or bridge end will find its record to end it (tonewall_calls_active)
   */
  onLeft?: () => void;
  /**
   * An erased call was live with no agent on it (in the IVR, or offered and waiting): its record
   * is gone, so no status callback or bridge end will say it is over, and the panels it was
   * offered to must hear so at once (the app publishes its one `call.ended`, callSid and status
   * only). A bridged call's end is its bridge's to report, when the conversation ends.
   */
  onEnded?: (callSid: string) => Promise<void>;
  /**
   * Set with ERASE_RECORDINGS: each recording the erased calls knew of is deleted at Twilio with
   * it; unset, they are named in the receipt and left (an operator may have to keep them by law)
   */
  removeRecording?: RecordingRemover;
  /** with ERASE_RECORDINGS: keeps a deletion Twilio did not take yet, to be tried again (recording-queue.ts) */
  recordingQueue?: Pick<RecordingErasureQueue, 'keep'>;
}

/**
 * The states of a live call with an agent on it or being connected: the conversation goes on, so
 * the erasure says nothing of its end (in bridge mode its bridge's end reports it, naming the
 * agent; a dial-mode call's end, with its record gone, has no reporter yet)
 */
const AGENT_ON_CALL: ReadonlySet<CallSession['state']> = new Set(['bridging', 'bridged', 'dialed']);

export async function eraseCall(
  deps: EraseCallDeps,
  callSid: string,
  /** the caller's digest under each key of the subject index's ring (service.ts): the call is theirs when its record names one */
  subjects: readonly string[],
  receiptId: string,
  actor: string | undefined,
): Promise<{
  found: boolean;
  values: number;
  deliveriesCancelled: number;
  sending: string[];
  resultsSending: string[];
  sent: SentDelivery[];
  recordings: RecordingErasure[];
}> {
  const { calls, vault, store, keys, processors, audit, replay, log } = deps;
  const s = await calls.get(callSid);
  // an index entry for another subject's call would be a bug elsewhere: never erase someone else
  if (s && (s.subject === undefined || !subjects.includes(s.subject)))
    return { found: false, values: 0, deliveriesCancelled: 0, sending: [], resultsSending: [], sent: [], recordings: [] };
  // read before the record goes, and from the trail, which outlives it (a record expired, or one that lost a SID)
  const known = s ? recordingSidsOf(s) : { caller: [], agent: [] };
  const recordingSids = [...new Set([...known.caller, ...known.agent, ...recordingSidsOfTrail(await audit.list(callSid))])];
  const named = s ? [...Object.values(s.fields).map((f) => f.token), s.fromToken].filter(isVaultToken) : [];
  for (const t of named) await vault.erase(t);
  // values the record no longer names (a field captured again) are found by the vault's call index
  const tokens = new Set([...named, ...(await vault.eraseCall(callSid))]);
  const {
    pending: deliveriesCancelled,
    sending,
    sent,
    records,
  } = await cancelDeliveries(
    store,
    keys,
    callSid,
    processors.map((p) => p.name),
  );
  const ops: StoreOp[] = [
    { op: 'del', key: keys.offer(callSid) },
    { op: 'srem', key: keys.offers(), member: callSid },
    { op: 'del', key: keys.captureLock(callSid) },
    ...(await captureRecordDeletions(deps, callSid, s?.capture?.id)),
    ...(await streamTokenDeletions(deps, callSid)),
    // a drop-in capture's hang-up watch, and its result POST (masked views and vault tokens) if still pending
    { op: 'del', key: keys.dropinWatch(callSid) },
    { op: 'srem', key: keys.dropinWatches(), member: callSid },
    ...dropinResultDeletions(keys, callSid),
  ];
  await store.multi(ops);
  await replay.forget(callSid);
  // A call still in progress is ended first, in one atomic change, as its status callback or
  // its bridge's end would: whichever of them changes the record first counts it out of the
  // active calls, once. The live call itself goes on; its next webhook finds no record.
  let left = false;
  let endedFrom: CallSession['state'] | undefined;
  await calls.update(callSid, (r) => {
    // a sealed value goes with every other of the call's below (vault.eraseCall)
    const end = endSession(r);
    left = end?.left ?? false;
    endedFrom = end ? r.endedFrom : undefined;
    if (!end) return false;
  });
  if (left) deps.onLeft?.();
  // its index entry under the digest its record names (the erasure removes those it listed, under every key)
  await calls.remove({ callSid, subject: s?.subject });
  // after the removal: every instance then finds no record, and tells the sockets that were told of the call (agents/socket.ts)
  if (endedFrom !== undefined && !AGENT_ON_CALL.has(endedFrom)) {
    await deps.onEnded?.(callSid).catch((err: unknown) => log.warn({ callSid, err: errFields(err) }, 'call.ended of an erased call not published'));
  }
  // Swept again now the record is gone. A capture ending on the call while this ran sealed its
  // value (in the call's vault index) and saved its capture record, then wrote the field to
  // the record: if it found the record, it did so before the removal above, so what it wrote
  // is found here; if it found none, it takes back its own writes (captures/settle.ts).
  for (const t of await vault.eraseCall(callSid)) tokens.add(t);
  // Such a capture's delivery, queued after the deliveries were cancelled above, found the record
  // and may have sent those values (a twilio-generic-pay gateway charged them): cancelled again
  // now the record is gone (a try from now on finds none and sends nothing), so its round is
  // told to the gateway and a try still sending is waited for, and no record of it is left.
  const late = await cancelDeliveries(
    store,
    keys,
    callSid,
    processors.map((p) => p.name),
  );
  sending.push(...late.sending.filter((l) => !sending.includes(l)));
  sent.push(...late.sent);
  // A drop-in result queued after the removal above (its hang-up read the record before it) and
  // tried before the record went would be retried later without asking for the record
  // (dropin/result-delivery.ts): removed here, it is not; one queued from now on is dropped at
  // its first try. A try that holds its lease now may be POSTing it: the erasure waits for it.
  // An accept that read the call as offered and took its offer after the removal of it above
  // (its bridge then ends with the record): the offer goes too, and a stream token issued as the
  // record went (a caller stream taken up again, an agent dialled, each from a record read before;
  // one written after this finds the record gone and is withdrawn by its issuer, media/tokens.ts).
  await store.multi([
    ...(await captureRecordDeletions(deps, callSid)),
    ...(await streamTokenDeletions(deps, callSid)),
    ...dropinResultDeletions(keys, callSid),
    { op: 'del', key: keys.offer(callSid) },
    { op: 'srem', key: keys.offers(), member: callSid },
  ]);
  const resultLease = keys.dropinResultLease(callSid);
  const resultsSending = (await store.get(resultLease)) === null ? [] : [resultLease];
  // after the store's erasure, which a failure at Twilio never stops
  const queue = deps.recordingQueue;
  const keep = queue ? (recordingSid: string) => queue.keep(callSid, recordingSid, receiptId) : undefined;
  const recordings = await eraseRecordings(callSid, recordingSids, deps.removeRecording, log, keep);
  try {
    await audit.append(callSid, { type: 'subject.erased', receiptId, actor, ...recordingsEntry(recordings) });
  } catch (e) {
    // the erasure itself is done; a missing trail entry must not undo or hide it
    log.error({ callSid, receiptId, code: isTonewallError(e) ? e.code : 'unknown' }, 'audit append failed after erasure');
  }
  // A call whose record expired before its vault values or its delivery records (VAULT_TTL_SECONDS
  // the longer) is one of theirs all the same, as is, with ERASE_RECORDINGS, one whose link the
  // subject index kept for the recordings its trail names (calls/repository.ts linkTtlSeconds).
  const erasedAtTwilio = recordings.some((r) => r.status !== 'kept');
  return {
    found: s !== null || tokens.size > 0 || records + late.records > 0 || erasedAtTwilio,
    values: tokens.size,
    deliveriesCancelled: deliveriesCancelled + late.pending,
    sending,
    resultsSending,
    sent,
    recordings,
  };
}

/** every capture record the call's capture index names (and `named`, the one its record names), and the index */
async function captureRecordDeletions(deps: Pick<EraseCallDeps, 'store' | 'keys'>, callSid: string, named?: string): Promise<StoreOp[]> {
  const { store, keys } = deps;
  const ids = new Set(await store.smembers(keys.captures(callSid)));
  if (named) ids.add(named);
  return [...[...ids].map((id) => ({ op: 'del' as const, key: keys.capture(callSid, id) })), { op: 'del', key: keys.captures(callSid) }];
}

/** every media-stream token the call's list names (a grant names its call; one Twilio used is gone already), and the list */
async function streamTokenDeletions(deps: Pick<EraseCallDeps, 'store' | 'keys'>, callSid: string): Promise<StoreOp[]> {
  const { store, keys } = deps;
  const tokens = await store.smembers(keys.streamTokens(callSid));
  return [...tokens.map((t) => ({ op: 'del' as const, key: keys.streamToken(t) })), { op: 'del', key: keys.streamTokens(callSid) }];
}

/** a drop-in result POST of the call's (masked views and vault tokens) and its index entry */
function dropinResultDeletions(keys: Keys, callSid: string): StoreOp[] {
  return [
    { op: 'del', key: keys.dropinResult(callSid) },
    { op: 'srem', key: keys.dropinResults(), member: callSid },
  ];
}
