/**
 * A call's opening: its new session, its caller's number sealed for the vault and, when its
 * flow opens plainly (words and a first prompt: nothing to pause, seal or hand off), its first
 * TwiML, so the record is created as it stands after that first step with no second write
 * (twilio/first-webhook.ts). Worked out once per loaded flow, not per call.
 */
import { callDataTtlSeconds, type CallSession } from '../calls/session';
import { actionQueryOf } from './action-query';
import { advance } from '../flows/engine';
import { callerIdOf, maskedCaller } from '../privacy/subject';
import type { Flow } from '../flows/schema';
import type { StoreOp } from '../store';
import type { Vault } from '../vault';
import { renderVerbs } from './twiml';

export interface OpeningDeps {
  vault: Pick<Vault, 'putOps'>;
  /** the subject index key of a canonical identity (privacy/subject.ts callerIdOf) */
  subjectHash: (subject: string) => string;
  publicUrl: string;
  now: () => Date;
}

/** the caller's identity (canonical: privacy/subject.ts callerIdOf) is kept in the vault under this field name, never in the session */
export const FROM_FIELD = '__from';

/** what a call's first webhook says about it */
export interface CallStart {
  callSid: string;
  accountSid: string;
  from: string;
  to: string;
  /**
   * the call was answered before it reached the service (CallStatus in-progress: another
   * application <Redirect>ed it here): something may be recording it already
   */
  live?: boolean;
}

export interface Opening {
  /** the session to create: as it stands after the first step when `twiml` is set, else fresh */
  session: CallSession;
  /** the encrypted caller's number and its entry in the call's vault index, written with the session or not at all */
  also: StoreOp[];
  /** the first TwiML, when the first step asks for nothing but the record (no pause, value or handoff) */
  twiml?: string;
}

/** the parts of a session its steps move: everything but who called and when */
type StepState = Pick<CallSession, 'state' | 'step' | 'attempt' | 'recording' | 'fields' | 'handoff'>;

/** what the engine's first step makes of a fresh call, when it asks for nothing but the record */
interface PlainOpening {
  /**
   * the call's state after that step, as JSON: kept for every call to the flow, each call parses
   * its own copy (cheaper than structuredClone of the object, and no call can change the kept one)
   */
  stateJson: string;
  twiml: string;
}

/** a new call's state, before its first step */
function freshState(flow: Flow): StepState {
  return {
    state: 'ivr',
    step: 0,
    attempt: 1,
    recording: { status: 'none' },
    fields: {},
    handoff: { mode: flow.handoff.mode, ...(flow.handoff.to ? { to: flow.handoff.to } : {}), ...(flow.record ? { record: true } : {}) },
  };
}

const STATE_KEYS = new Set(['state', 'step', 'attempt', 'recording', 'fields', 'handoff']);

function onlyStateChanged(before: CallSession, after: CallSession): boolean {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const k of keys) if (!STATE_KEYS.has(k) && before[k as keyof CallSession] !== after[k as keyof CallSession]) return false;
  return true;
}

/** who called, for working out a flow's opening once: the engine never reads it */
const ANONYMOUS_CALL = { callSid: '', accountSid: '', to: '', fromMasked: '', subject: '', createdAt: 0, updatedAt: 0 } as const;

export class Openings {
  constructor(private readonly d: OpeningDeps) {}

  private now(): Date {
    return this.d.now();
  }

  /**
   * A call's new session, the vault write of the caller's number that belongs to it and, when
   * the flow opens plainly, the first TwiML. Pure but for the envelope's encryption: nothing is
   * written (start, or twilio/first-webhook.ts, writes it).
   */
  opening(flow: Flow, p: CallStart, extra: Pick<Partial<CallSession>, 'dropin' | 'recording'> = {}): Opening {
    const t = this.now().getTime();
    // a withheld caller ID is everyone's who withholds theirs: filed under it, their calls would be
    // one subject's, each caller's access or erasure reaching every other's. Anyone else is filed
    // under the canonical form of who they are, the form a subject request names them by: a SIP
    // URI whose user part is a number is that number's caller.
    // A caller ID no request could name (unreadable) is filed under nothing either.
    const caller = callerIdOf(p.from);
    const who = 'subject' in caller ? caller.subject : undefined;
    const fresh: CallSession = {
      callSid: p.callSid,
      accountSid: p.accountSid,
      flowId: flow.id,
      to: p.to,
      // a placeholder's last digits would read as a caller's own: the agent is told it was withheld
      fromMasked: maskedCaller(caller),
      ...(who === undefined ? {} : { subject: this.d.subjectHash(who) }),
      ...freshState(flow),
      createdAt: t,
      updatedAt: t,
      ...extra,
    };
    // the caller's number goes into the vault with the record that names its token, or not at all;
    // canonical, so a processor is sent as `subject` what an erasure forwards to it
    const from = who === undefined ? undefined : this.d.vault.putOps(p.callSid, FROM_FIELD, who);
    if (from) fresh.fromToken = from.token;
    // It lives as long as the call record that names it (processors and subject access need it
    // for the whole call), or VAULT_TTL_SECONDS when that is longer: callDataTtlSeconds, as long
    // as the subject index entry (calls/repository.ts). Its entry in the call's vault index lives
    // as long: an erasure that finds the call in the subject index but its record gone (ended, so
    // expired sooner) finds the number there.
    const also = from ? from.ops.map((op) => ('ttlSeconds' in op ? { ...op, ttlSeconds: callDataTtlSeconds(op.ttlSeconds) } : op)) : [];
    // Most flows open with words and a first prompt (the recording, if any, starts in that
    // document's TwiML): nothing to pause, encrypt or hand off. Then the engine runs first and
    // the record is created as it stands after that first step, with no second write.
    const first = extra.dropin || extra.recording || p.live ? this.plainOpening(flow, fresh, p.live) : this.plainOpenings(flow);
    if (!first) return { session: fresh, also };
    // fresh is this call's own: the state goes into it, not into a copy
    return { session: Object.assign(fresh, JSON.parse(first.stateJson) as StepState), also, twiml: first.twiml };
  }

  /**
   * A flow's plain opening depends on the flow alone (the engine's first step reads the call's
   * state, never who called): worked out once per loaded flow, not per call.
   */
  private readonly known = new WeakMap<Flow, PlainOpening | null>();

  private plainOpenings(flow: Flow): PlainOpening | null {
    let known = this.known.get(flow);
    if (known === undefined) {
      known = this.plainOpening(flow, { ...ANONYMOUS_CALL, flowId: flow.id, ...freshState(flow) });
      this.known.set(flow, known);
    }
    return known;
  }

  /** the engine's first step for this fresh session, when it asks for nothing but the record */
  private plainOpening(flow: Flow, fresh: CallSession, live?: boolean): PlainOpening | null {
    const first = advance(flow, { kind: 'start', live }, fresh, { now: this.now() });
    const plain =
      first.session.state === 'ivr' &&
      !first.effect &&
      first.vaultWrites.length === 0 &&
      Object.keys(first.session.fields).length === 0 &&
      !first.verbs.some((v) => v.verb === 'handoff');
    // the engine's first step changes only the call's state; were it ever to touch anything
    // else (who called, when), the opening would be the caller's own: not shared, not kept
    if (!plain || !onlyStateChanged(fresh, first.session)) return null;
    const { state, step, attempt, recording, fields, handoff } = first.session;
    return {
      stateJson: JSON.stringify({ state, step, attempt, recording, fields, handoff } satisfies StepState),
      twiml: renderVerbs(first.verbs, { publicUrl: this.d.publicUrl, flow, actionQuery: actionQueryOf(first.session, this.now()) }),
    };
  }
}
