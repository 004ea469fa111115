/**
 * The call session: everything the service keeps about a call, in the store as JSON. It holds
 * masked views, vault tokens and an HMAC of the caller's number, never a plain value or a full
 * number.
 */
import type { ProcessorSummaryView } from '../bus';
import type { CardBrand, ErrorType, FieldKind, FieldState } from '../fields';

export type { FieldState } from '../fields';

export type CallState = 'ivr' | 'returned' | 'handoff' | 'offered' | 'bridging' | 'bridged' | 'dialed' | 'ended';
/**
 * A recording as the service knows it: `stopped` once Twilio reports it `completed` (or the
 * service stopped it); `absent` when Twilio kept no file (too short, 16101, or silent and the
 * account deletes silent recordings, 16102); `failed` when Twilio reports it failed (Voice
 * Recording Encryption could not encrypt it). The last three are final: nothing runs.
 */
export type RecordingStatus = 'none' | 'in-progress' | 'paused' | 'stopped' | 'absent' | 'failed';

export interface CallSession {
  callSid: string;
  accountSid: string;
  flowId: string;
  /** the Twilio number called (ours, not personal data) */
  to: string;
  /** the caller's number masked to its last 4 digits, or WITHHELD_CALLER */
  fromMasked: string;
  /**
   * HMAC-SHA256 of the caller's E.164 number: the subject index key (privacy/). Absent when the
   * caller withheld their number (privacy/subject.ts isWithheldCallerId): a call filed under
   * Twilio's placeholder would be linked to every other caller who withheld theirs.
   */
  subject?: string;
  /** vault token of the caller's number, encrypted, for processors and subject access (absent: withheld) */
  fromToken?: string;
  state: CallState;
  step: number;
  attempt: number;
  /** why the current step is being asked again (a Twilio errorType), for its error prompt */
  lastError?: ErrorType;
  /**
   * The first entry of a requireMatchingInputs step, awaiting the second: encrypted in the
   * vault under the step's field (token), never on the session in plain.
   */
  pendingMatch?: { step: number; token: string };
  /**
   * A stray key: the last entry ended on its count and the next Gather was asked at once, so a
   * key the caller pressed past the entry's end (a habitual '#') may have ended that Gather empty
   * (`possible`); such an empty entry is asked again once, same attempt, on an action URL of its
   * own (`asked-again`). Twilio takes every key pressed once a Gather has begun.
   */
  strayKey?: 'possible' | 'asked-again';
  /**
   * The caller's call recording, started by <Start><Recording> in the first document that asks
   * for nothing sensitive, paused around sensitive fields, stopped at a bridge handoff. A drop-in
   * capture's is the app's: `sids` names every recording the app had in progress as the capture
   * began (Twilio allows several on one call), each paused and resumed by its SID, `status` all
   * of them together (`sid` too when there is one); `unlisted`: the call's recordings could not
   * be listed, so no pause can cover them all and the first one fails (closed). An IVR call's
   * sensitive stretch pauses, with the flow's own, every other recording it finds in progress
   * on the call (another application's, started over REST), each by its SID in `sids`; on a
   * call whose own does not run (a flow that does not record, or not yet), those alone, and
   * `othersPaused` says such a stretch is open (`sids` empty: none was running).
   */
  recording: {
    sid?: string;
    sids?: string[];
    unlisted?: boolean;
    status: RecordingStatus;
    othersPaused?: boolean;
    pauseFailed?: boolean;
    stopFailed?: boolean;
    /**
     * The last resume failed: the recording is taken as paused, but may be running (Twilio may
     * carry out a resume it did not answer in time). Not asked again until a sensitive field
     * needs a pause, which it gets as if the recording ran, sent no sooner than `lateUntil`
     * (epoch ms; 0 when Twilio answered the resume with an error and cannot carry it out),
     * whichever instance sends it. Also named by a stretch's pause that failed part-way, whose
     * undo of the pauses before the failure Twilio did not answer (its `lateUntil`): the stop
     * and the hold before a bridge wait for it too.
     */
    resumeFailed?: { lateUntil: number };
  };
  /**
   * in bridge mode, the agent's call recording: the agent and the masked audio tonewall sends
   * them; `callSid`, the agent call it records (its status callback's CallSid: calls/agent-call.ts)
   */
  agentRecording?: { sid?: string; status: RecordingStatus; callSid?: string };
  /**
   * Bridge mode: other applications' recordings on the agent's call a capture paused and could not
   * resume (Twilio refused the resume; one on the caller's call is never resumed in a bridge). The next capture takes each in while Twilio lists it paused, and
   * resumes it with the rest (captures/recorded.ts captureRecordings).
   */
  heldRecordings?: { callSid: string; recordingSid: string }[];
  /**
   * Bridge mode: a capture's resume of the agent call's recordings that Twilio did not answer
   * (at its end, or undoing the pauses of a start that was refused) may still be carried out until
   * then (epoch ms), on whichever instance sent it. The next
   * capture, on whichever instance holds the bridge by then, pauses no sooner
   * (captures/pause.ts `afterLateResume`), as an IVR stretch waits for `recording.resumeFailed`.
   */
  captureResumeLateUntil?: number;
  fields: Record<string, FieldState>;
  cardBrand?: CardBrand;
  handoff: {
    mode: 'bridge' | 'dial';
    to?: string;
    agentSub?: string;
    /** the agent who accepted, as the audit trail and agent events name them (AuditTrail.actor), never the `sub` */
    agentActor?: string;
    agentEndpoint?: string;
    agentCallSid?: string;
    /** bridge mode: agent calls before `agentCallSid` (dialled again after a lost bridge), whose recording callbacks change nothing (calls/agent-call.ts) */
    pastAgentCallSids?: string[];
    /** record the agent's call in bridge mode (the flow's `record`) */
    record?: boolean;
    /**
     * Bridge mode: the caller's media streams so far (absent: 1). A stream lost with the instance
     * that held it (stopped, or gone) is followed by another on whichever instance Twilio's
     * <Redirect> after <Connect> reaches (twilio/bridge-lost.ts); the number names each stream's redirect.
     */
    streams?: number;
    /**
     * Bridge mode: other applications' recordings on the caller's call (started over REST: a
     * compliance recorder), paused by their SIDs for the whole bridge, Twilio's acknowledgement
     * awaited before the caller's stream is given (twilio/bridge-hold.ts `holdForBridge`). The
     * caller's call is not masked: one running there would hear every key. Empty: none was
     * running. A capture in the bridge takes in one it finds running since (captures/recorded.ts
     * `bridgeHolds`). None is resumed: the caller's call ends with its bridge.
     */
    recordingsHeld?: string[];
    /** one of those could not be paused: no bridge is made (fail closed, flows/steps/handoff.ts) */
    holdFailed?: boolean;
    /**
     * Dial mode without `to`: when the call was offered to the connected agents (epoch ms). The
     * caller waits in a hold loop (twilio/dial-offer.ts) until an accept moves their call to a
     * <Dial> of the agent's endpoint, or the hold timeout passes.
     */
    offeredAt?: number;
    /** dial mode without `to`: when an agent accepted the offer (epoch ms) */
    acceptedAt?: number;
    /**
     * Dial mode: when the party the caller's <Dial> rang (the accepting agent's endpoint, or `to`)
     * answered (epoch ms), as Twilio's status callback of the noun said (twilio/dial-answered.ts);
     * set once, `call.bridged` published then
     */
    dialAnsweredAt?: number;
  };
  /** the instance holding this call's media bridge (bridge mode) */
  instanceId?: string;
  capture?: { id: string; name: string; kind: FieldKind; status: 'capturing' | 'completed' | 'failed' | 'cancelled' };
  /** the call's agent-assisted payment session (captures/payments.ts), if one was started */
  payment?: PaymentSession;
  /**
   * A drop-in capture (issue 13, dropin/): another app's call, redirected here for the flow's
   * fields, then back to `returnUrl` (allow-listed) with the signed `result`. Its state stays
   * `ivr` while it captures. `interrupted`: the caller pressed `*` at a sensitive field whose
   * entry ended on the Gather's timeout; the capture ends once that field's guard has.
   */
  dropin?: { returnUrl: string; result?: string; interrupted?: true };
  /**
   * Each processor's latest delivery outcome, one entry per processor, as its `processor.result`
   * told the agents (processors/delivery.ts): kept so a panel that reloads still shows whether the
   * payment went through. The allow-listed summary only, never the answer.
   */
  processorResults?: ProcessorOutcome[];
  createdAt: number;
  updatedAt: number;
  endedAt?: number;
  /**
   * The state the call ended in (endSession). A call that ended `offered` had been offered to
   * every connected agent: its `call.ended` reaches them all, so no panel keeps offering a call
   * that is over (agents/socket.ts).
   */
  endedFrom?: CallState;
}

/** what one processor's delivery came to: `processor.result` less its type and call, and when (epoch ms) */
export interface ProcessorOutcome {
  processor: string;
  ok: boolean;
  /** the HTTP status of the last try, if it was answered */
  status?: number;
  attempts: number;
  result?: ProcessorSummaryView;
  at: number;
}

/**
 * Twilio's Payments subresource on tonewall's captures: the fields an agent gathers one by one
 * and completes (or cancels) together. Field statuses live in the capture records.
 */
export interface PaymentSession {
  id: string;
  status: 'open' | 'completed' | 'cancelled';
  blanket: boolean;
  /** `starting`: a capture of the field is being started (captures/payments.ts) */
  fields: Array<{ name: string; kind: FieldKind; captureId?: string; starting?: true }>;
  createdAt: number;
  endedAt?: number;
}

/** how long a call record lives: long enough for the longest call and for agents to read it after */
export const CALL_TTL_SECONDS = 4 * 60 * 60;

/**
 * The longest anything a call leaves in the store lives past the write that left it: its record
 * (CALL_TTL_SECONDS) or its vault values (VAULT_TTL_SECONDS, up to 7 days), whichever is longer.
 * The sealed caller, the delivery records and the subject index entry live this long, so the
 * index that erasure and access walk (CONTRACT §7) outlives every key it leads to.
 */
export function callDataTtlSeconds(vaultTtlSeconds: number): number {
  return Math.max(CALL_TTL_SECONDS, vaultTtlSeconds);
}

/**
 * The vault field name the caller's number is sealed under (`vault.put(callSid,
 * CALLER_VAULT_FIELD, from)` → `session.fromToken`). Flow field names start with a letter, so
 * this can never be a collected field's name. Must equal twilio/opening.ts FROM_FIELD (a test
 * holds them together); kept with the call record so processors/ and privacy/ share it without
 * importing each other or the flow runner.
 */
export const CALLER_VAULT_FIELD = '__from';
/** once a call ended, its record stays readable (state "ended") this long */
export const ENDED_CALL_TTL_SECONDS = 15 * 60;

/**
 * Ends a session where it stands, as every end of a call does (its status callback, its bridge's
 * end, the sweep, an erasure): state ended (the state it ended from kept), the end time set, and a first entry of a matching pair
 * sealed while its second was awaited let go. What the caller must do besides: count the call out
 * of the active ones when it `left` them (a returned drop-in call had left already) and erase the
 * `sealed` vault value. Null when it had ended already: whatever ended it did both.
 */
export function endSession(s: CallSession, now = Date.now()): { left: boolean; sealed?: string } | null {
  if (s.state === 'ended') return null;
  const left = s.state !== 'returned';
  const sealed = s.pendingMatch?.token || undefined;
  s.endedFrom = s.state;
  s.state = 'ended';
  s.endedAt = now;
  s.pendingMatch = undefined;
  return { left, sealed };
}

/** `fromMasked` of a call whose caller withheld their number (privacy/subject.ts isWithheldCallerId) */
export const WITHHELD_CALLER = 'withheld';
