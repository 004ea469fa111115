/**
 * What the store holds of one of a subject's calls besides its masked fields (CONTRACT §7: the
 * access report's **Added** members), each masked as the report must be: no value, no card
 * number, no security code, no full caller number, no vault or media token, no card token a
 * tokenizing gateway returned, and no other person's identity (the agent who took the call is
 * another data subject: GDPR Art. 15(4)). Read from:
 *
 * - the call record: the flow, when the call ended, the handoff's times (offered, accepted,
 *   answered: not who), its recordings (Twilio's SIDs and status: the audio is Twilio's), a
 *   field's failure reason, the agent's payment session, each processor's outcome (the summary,
 *   its `token` left out), a drop-in capture's result and the origin of the app it returns to;
 * - the vault's index of the call's tokens: each sealed value that exists, which field or the
 *   caller's identity it is (as the record names its token) and when it expires, never opened;
 * - the call's capture records (captureView: masked, counts, the reason of a failure);
 * - a drop-in capture's hang-up watch and its result POST (state, tries, the app's origin);
 * - the media-stream tokens issued for the call that Twilio has not used yet (a count: a token
 *   is a credential to the call's audio);
 * - the audit trail: each entry's type, time and details, but not its actor (an agent's or
 *   admin's digest) nor its chain fields.
 *
 * Deliberately not reported: the webhook answers the replay guard remembers for the call (the
 * service's own TwiML, built from what the record holds; erased with the call), and the locks and
 * indexes that only point at the records above (a call's capture lock, a delivery's or drop-in
 * result's lease, the calls and audit-day indexes).
 */
import { z } from 'zod';
import type { AuditEntry } from '../audit/chain';
import type { CallSession, RecordingStatus } from '../calls/session';
import { captureView, type CaptureRecord } from '../captures/types';
import type { FieldKind } from '../fields';
import type { Keys, Store } from '../store';
import type { Vault } from '../vault';

/** a sealed value the vault holds for the call: what it is, never what it holds */
export interface SealedValue {
  /**
   * `field`: a collected field's value (named on the record); `caller`: the caller's identity,
   * sealed for processors; `first-entry`: the first entry of a matching pair, awaiting its
   * second; `superseded`: a value the record no longer names (the field captured again), kept
   * until it expires or the caller is erased; `unnamed`: a value of a call whose record (which
   * said what each was) has expired
   */
  of: 'field' | 'caller' | 'first-entry' | 'superseded' | 'unnamed';
  field?: string;
  kind?: FieldKind;
  expiresAt?: string;
}

export interface HeldOfCall {
  flowId?: string;
  endedAt?: string;
  handoff?: { mode: 'bridge' | 'dial'; offeredAt?: string; acceptedAt?: string; answeredAt?: string; accepted?: true };
  /**
   * `call`: the recordings at Twilio the trail of a call whose record expired names (whose each
   * was, the record said), reported with ERASE_RECORDINGS, which keeps the caller's link to the
   * call for them (service.ts access)
   */
  recordings?: { of: 'caller' | 'agent' | 'call'; status?: RecordingStatus; sids: string[] }[];
  sealed?: SealedValue[];
  captures?: (ReturnType<typeof captureView> & { startedAt: string; endedAt?: string })[];
  payment?: {
    paymentId: string;
    status: 'open' | 'completed' | 'cancelled';
    blanket: boolean;
    fields: { name: string; kind: FieldKind }[];
    createdAt: string;
    endedAt?: string;
  };
  processorResults?: {
    processor: string;
    ok: boolean;
    status?: number;
    attempts: number;
    at: string;
    result?: { approved?: boolean; status?: string; code?: string; reference?: string; last4?: string; brand?: string };
  }[];
  dropin?: {
    returnTo?: string;
    result?: string;
    interrupted?: true;
    watched?: true;
    resultDelivery?: { status: 'pending' | 'delivered' | 'failed'; attempts: number; to?: string };
  };
  streamTokens?: number;
  audit?: { seq: number; at: string; type: string; [k: string]: string | number | boolean }[];
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** the members of `o` that are not undefined (a report has no `"x": undefined`) */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** an origin, or undefined for text that is no URL */
function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** chain and integrity fields, and who acted (another person than the caller) */
const AUDIT_LEFT_OUT = new Set(['actor', 'kid', 'prev', 'hash']);

export async function heldOfCall(
  d: { store: Store; keys: Keys; vault: Vault },
  callSid: string,
  s: CallSession | null,
  trail: readonly AuditEntry[],
): Promise<HeldOfCall> {
  const out: HeldOfCall = {};
  if (s) Object.assign(out, fromRecord(s, (await d.store.get(d.keys.offer(callSid))) !== null));
  const sealed = await sealedValues(d.vault, callSid, s);
  if (sealed.length > 0) out.sealed = sealed;
  const captures = await captureRecords(d.store, d.keys, callSid, s?.capture?.id);
  if (captures.length > 0) out.captures = captures;
  const dropin = await dropinHeld(d.store, d.keys, callSid, s);
  if (dropin) out.dropin = dropin;
  const tokens = await d.store.smembers(d.keys.streamTokens(callSid));
  const unused = (await Promise.all(tokens.map(async (t) => (await d.store.get(d.keys.streamToken(t))) !== null))).filter(Boolean).length;
  if (unused > 0) out.streamTokens = unused;
  if (trail.length > 0) {
    out.audit = trail.map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => !AUDIT_LEFT_OUT.has(k))) as NonNullable<HeldOfCall['audit']>[number]);
  }
  return out;
}

/** the states of a call handed off (or being): the flow's handoff is reported from the first on */
const HANDOFF_STATES: ReadonlySet<CallSession['state']> = new Set(['handoff', 'offered', 'bridging', 'bridged', 'dialed']);

function fromRecord(s: CallSession, offerTaken: boolean): HeldOfCall {
  const out: HeldOfCall = { flowId: s.flowId };
  if (s.endedAt !== undefined) out.endedAt = iso(s.endedAt);
  const h = s.handoff;
  const reached = s.state === 'ended' ? s.endedFrom : s.state;
  if (!s.dropin && reached !== undefined && HANDOFF_STATES.has(reached)) {
    out.handoff = defined({
      mode: h.mode,
      offeredAt: iso(h.offeredAt),
      acceptedAt: iso(h.acceptedAt),
      answeredAt: iso(h.dialAnsweredAt),
      // taken by an agent, who is not named (Art. 15(4)): their `sub`, endpoint and digest stay out
      accepted: h.agentSub !== undefined || h.agentActor !== undefined || offerTaken ? (true as const) : undefined,
    });
  }
  const recordings: NonNullable<HeldOfCall['recordings']> = [];
  const { caller: callerSids, agent: agentSids } = recordingSidsOf(s);
  if (s.recording.status !== 'none' || callerSids.length > 0) recordings.push({ of: 'caller', status: s.recording.status, sids: callerSids });
  if ((s.agentRecording && s.agentRecording.status !== 'none') || agentSids.length > 0) {
    recordings.push(defined({ of: 'agent' as const, status: s.agentRecording?.status, sids: agentSids }));
  }
  if (recordings.length > 0) out.recordings = recordings;
  if (s.payment) {
    const p = s.payment;
    out.payment = defined({
      paymentId: p.id,
      status: p.status,
      blanket: p.blanket,
      fields: p.fields.map((f) => ({ name: f.name, kind: f.kind })),
      createdAt: new Date(p.createdAt).toISOString(),
      endedAt: iso(p.endedAt),
    });
  }
  if (s.processorResults && s.processorResults.length > 0) {
    out.processorResults = s.processorResults.map((r) => {
      // a tokenizing gateway's `token` stands for the card and can be charged: the record keeps none
      // (processors/delivery.ts keepOutcome), and one a record holds all the same is left out here
      // (its `status`, `tokenized`, says one was issued)
      const { token: _token, ...summary } = r.result ?? {};
      return defined({
        processor: r.processor,
        ok: r.ok,
        status: r.status,
        attempts: r.attempts,
        at: new Date(r.at).toISOString(),
        result: r.result ? summary : undefined,
      });
    });
  }
  return out;
}

/**
 * Every recording the call record knows of, by Twilio's SID: the caller's (the flow's own, each
 * one it started, and other applications' a bridge held) and the agent's (the agent call's own, and
 * other applications' a stretch or capture paused). The access report lists them; an erasure
 * names them in its receipt and, with ERASE_RECORDINGS, deletes them at Twilio (service.ts).
 */
export function recordingSidsOf(s: CallSession): { caller: string[]; agent: string[] } {
  const sids = (xs: (string | undefined)[]): string[] => [...new Set(xs.filter((x): x is string => !!x))];
  return {
    caller: sids([s.recording.sid, ...(s.recording.sids ?? []), ...(s.handoff.recordingsHeld ?? [])]),
    agent: sids([s.agentRecording?.sid, ...(s.heldRecordings ?? []).map((r) => r.recordingSid)]),
  };
}

/** the vault's values of the call, by what the record names each token; none is opened */
async function sealedValues(vault: Vault, callSid: string, s: CallSession | null): Promise<SealedValue[]> {
  const named = new Map<string, Omit<SealedValue, 'expiresAt'>>();
  if (s) {
    for (const [name, f] of Object.entries(s.fields)) if (f.token) named.set(f.token, { of: 'field', field: name, kind: f.kind });
    if (s.fromToken) named.set(s.fromToken, { of: 'caller' });
    if (s.pendingMatch?.token) named.set(s.pendingMatch.token, { of: 'first-entry' });
  }
  const held = await vault.sealedFor(callSid);
  const unknown: Omit<SealedValue, 'expiresAt'> = { of: s ? 'superseded' : 'unnamed' };
  const out = held.map((v): SealedValue => defined({ ...(named.get(v.token) ?? unknown), expiresAt: iso(v.expiresAt) }));
  const order = { caller: 0, field: 1, 'first-entry': 2, superseded: 3, unnamed: 4 };
  return out.sort((a, b) => order[a.of] - order[b.of] || (a.field ?? '').localeCompare(b.field ?? '') || (a.expiresAt ?? '').localeCompare(b.expiresAt ?? ''));
}

async function captureRecords(store: Store, keys: Keys, callSid: string, named?: string): Promise<NonNullable<HeldOfCall['captures']>> {
  const ids = new Set(await store.smembers(keys.captures(callSid)));
  if (named) ids.add(named);
  const out: NonNullable<HeldOfCall['captures']> = [];
  for (const id of ids) {
    const raw = await store.get(keys.capture(callSid, id));
    if (!raw) continue;
    let r: CaptureRecord;
    try {
      r = JSON.parse(raw) as CaptureRecord;
    } catch {
      continue;
    }
    // captureView: what agents see, never the recordings it paused nor who started it
    out.push(defined({ ...captureView(r), startedAt: new Date(r.startedAt).toISOString(), endedAt: iso(r.endedAt) }));
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/**
 * Of a drop-in result POST's record (dropin/result-delivery.ts, which privacy/ may not import):
 * its state and tries, and the URL, read only for its origin (the recipient); its parameters
 * (masked views and vault tokens) are never read here.
 */
const resultRecord = z.object({ status: z.enum(['pending', 'delivered', 'failed']), attempts: z.number(), url: z.string().optional() });

function resultDeliveryView(raw: string | null): NonNullable<HeldOfCall['dropin']>['resultDelivery'] | null {
  if (raw === null) return null;
  let parsed: z.SafeParseReturnType<unknown, z.infer<typeof resultRecord>>;
  try {
    parsed = resultRecord.safeParse(JSON.parse(raw));
  } catch {
    return null;
  }
  if (!parsed.success) return null;
  const to = parsed.data.url !== undefined ? originOf(parsed.data.url) : undefined;
  return { status: parsed.data.status, attempts: parsed.data.attempts, ...(to ? { to } : {}) };
}

async function dropinHeld(store: Store, keys: Keys, callSid: string, s: CallSession | null): Promise<HeldOfCall['dropin']> {
  const watched = (await store.get(keys.dropinWatch(callSid))) !== null;
  const resultDelivery = resultDeliveryView(await store.get(keys.dropinResult(callSid)));
  if (!s?.dropin && !watched && !resultDelivery) return undefined;
  return defined({
    // the app's origin, the recipient: its path and query are the app's own and may carry anything
    returnTo: s?.dropin ? originOf(s.dropin.returnUrl) : undefined,
    result: s?.dropin?.result,
    interrupted: s?.dropin?.interrupted,
    watched: watched ? (true as const) : undefined,
    resultDelivery: resultDelivery ?? undefined,
  });
}
