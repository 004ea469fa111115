/**
 * A delivery's state in the store: one small record per call and processor (`keys.delivery`),
 * an index of the pending ones (`keys.deliveries()`) and a lease per try. No record holds a
 * value, the caller's number or the subject hash.
 */
import { createHash } from 'node:crypto';
import { callDataTtlSeconds, type CallSession } from '../calls/session';
import type { Keys, Store } from '../store';
import type { Vault } from '../vault';
import type { ProcessorConfig } from './config';

/**
 * The lease of one delivery's current try (`keys.deliveryLease`).
 */
export function deliveryLeaseKey(keys: Keys, callSid: string, processor: string): string {
  return keys.deliveryLease(callSid, processor);
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** what the store holds about one delivery: no value, no number, no subject */
export interface DeliveryRecord {
  v: 1;
  callSid: string;
  processor: string;
  status: DeliveryStatus;
  attempts: number;
  /** epoch ms of the next try (pending) */
  nextAt: number;
  createdAt: number;
  updatedAt: number;
  httpStatus?: number;
  reason?: string;
  /** the agent's payment session these values are (captures/payments.ts); absent: the call's own */
  round?: string;
  /**
   * Earlier rounds of this call that may have reached the processor (`roundsSent`), carried over
   * when a new round replaced their record: null is the call's own values. An erasure tells a
   * twilio-generic-pay gateway the transaction id of each (erase.ts), which it knows them by.
   */
  earlier?: (string | null)[];
}

/**
 * The rounds of a record whose values may have reached the processor: its own once a try was
 * counted (a try is counted before its request leaves, delivery.ts), and those `earlier` holds.
 * A round queued and never tried (or failed before sending: values gone, a field mapping) did not.
 */
export function roundsSent(rec: DeliveryRecord): (string | undefined)[] {
  return [...(rec.earlier ?? []).map((r) => r ?? undefined), ...(rec.attempts > 0 ? [rec.round] : [])];
}

/**
 * Which values of the call a delivery sends: a completed payment session's (its id), or, with no
 * payment, the call's own (undefined). A new completed payment is a new delivery: "declined, try
 * another card" reaches the processor again, under keys of its own.
 */
export function deliveryRound(session: Pick<CallSession, 'payment'>): string | undefined {
  return session.payment?.status === 'completed' ? session.payment.id : undefined;
}

/** stable per call, processor and round, and opaque: it names none of them */
export function idempotencyKey(callSid: string, processor: string, round?: string): string {
  return createHash('sha256')
    .update(`tonewall:delivery\0${callSid}\0${processor}${round ? `\0${round}` : ''}`)
    .digest('hex');
}

export function deliveryIndexMember(callSid: string, processor: string): string {
  return JSON.stringify([callSid, processor]);
}

export function parseMember(m: string): [string, string] | null {
  try {
    const v: unknown = JSON.parse(m);
    return Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' ? [v[0], v[1]] : null;
  } catch {
    return null;
  }
}

export function parseRecord(raw: string | null): DeliveryRecord | null {
  if (raw === null) return null;
  try {
    const r = JSON.parse(raw) as DeliveryRecord;
    return r && r.v === 1 ? r : null;
  } catch {
    return null;
  }
}

/** true when every field the processor takes is captured, valid and in the vault */
export function readyFor(session: CallSession, processor: ProcessorConfig): boolean {
  // once an agent runs a payment session on the call, its values go on completion only, as
  // Twilio's do: not while it is open, and not after it was cancelled (a capture that ended as
  // the cancel came in may still write a value, which the cancel then erases)
  if (session.payment && session.payment.status !== 'completed') return false;
  // a drop-in capture's values go once it returned with success: not from an earlier step's save
  // (a later field may still fail, or the caller press '*' or hang up), as <Pay> charges at its end
  if (session.dropin && session.dropin.result !== 'success') return false;
  return processor.fields.every((name) => {
    const f = session.fields[name];
    return f !== undefined && f.valid === true && typeof f.token === 'string';
  });
}

/**
 * The TTL of delivery records: at least the vault's, and as long as the call record can ask
 * again; the call's subject index entry lives as long (calls/session.ts callDataTtlSeconds).
 */
export function deliveryTtlSeconds(vault: Pick<Vault, 'ttlSeconds'>): number {
  return callDataTtlSeconds(vault.ttlSeconds);
}

/** a delivery of one round of a call's values that may have reached the processor (erasure) */
export interface SentDelivery {
  callSid: string;
  processor: string;
  round?: string;
}

/**
 * Removes every delivery of a call (erasure): the configured processors' and any other the
 * index names. Returns how many were still pending, the leases of those a try holds now, and the
 * rounds that may have reached each processor (`sent`, read from the records as they are removed:
 * an erasure forwards to a twilio-generic-pay processor only what it was sent, erase.ts). A try
 * holding its lease may be sending the values at this moment, so its lease is left for it to
 * release when its request ends (no try starts again: its record is gone), and the erasure waits
 * for that before it tells the processor to erase (privacy/service.ts).
 */
export async function cancelDeliveries(
  store: Store,
  keys: Keys,
  callSid: string,
  processorNames: readonly string[],
): Promise<{ pending: number; sending: string[]; sent: SentDelivery[]; records: number }> {
  const names = new Set(processorNames);
  for (const m of await store.smembers(keys.deliveries())) {
    const p = parseMember(m);
    if (p && p[0] === callSid) names.add(p[1]);
  }
  let pending = 0;
  let records = 0;
  const sending: string[] = [];
  const sent: SentDelivery[] = [];
  for (const name of names) {
    // read and removed in one step: a try counts itself on the record (under compare-and-set)
    // before its request leaves, so either it did so before this, and its round is in `sent`, or
    // it finds no record and sends nothing
    const rec = parseRecord(await store.take(keys.delivery(callSid, name)));
    if (rec) records++;
    if (rec?.status === 'pending') pending++;
    if (rec) for (const round of roundsSent(rec)) sent.push({ callSid, processor: name, ...(round !== undefined ? { round } : {}) });
    await store.srem(keys.deliveries(), deliveryIndexMember(callSid, name));
    // the lease is read after the record is gone: a try that takes it later finds no record to send
    const lease = deliveryLeaseKey(keys, callSid, name);
    if ((await store.get(lease)) !== null) sending.push(lease);
  }
  return { pending, sending, sent, records };
}
