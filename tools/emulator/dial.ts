import type { Call } from './call';
import { abortableSleep, deliverWebhook, type EmulatorContext } from './context';
import type { DialOutcome } from './faults';
import { newSid, rfc2822 } from './ids';
import type { DialCallStatus } from './timeline';
import type { PartyEvent, TwimlVerb } from './twiml';

/**
 * A <Dial> to a party (a <Number>, <Client> or <Sip>), as Twilio runs it: the party rings, then
 * answers and talks until one side hangs up, or never connects (busy, no-answer once the
 * <Dial timeout> passed, failed, canceled). Twilio then requests the <Dial action> with the
 * outcome: DialCallStatus, DialCallSid (the dialled call's own SID), DialBridged, and
 * DialCallDuration only for a call that was answered (docs: /docs/voice/twiml/dial, the action's
 * parameters). What the party does is the test's choice (`faults.dialOutcome`).
 */

export type DialVerb = Extract<TwimlVerb, { verb: 'Dial' }>;

export interface DialEnded {
  status: DialCallStatus;
  /** the action's parameters of the outcome (the call's own are added when it is requested) */
  params: Record<string, string>;
  /** the caller hung up while the parties talked: Twilio requests the action and ignores its answer */
  callerGone: boolean;
}

/** what `dialOutcome` leaves unset: the party answers at once and hangs up at once */
const ANSWERED_AT_ONCE: DialOutcome = { status: 'completed' };

/**
 * Rings and talks as the test chose. Null when the call's TwiML run ended while the party
 * still rang (the caller hung up, or the call was redirected over REST): the dialled call is
 * dropped and the emulator requests no action then (Twilio's docs do not say what it sends).
 */
export async function runDial(ctx: EmulatorContext, call: Call, verb: DialVerb, signal: AbortSignal, partyUrl?: string): Promise<DialEnded | null> {
  const chosen = ctx.faults.dialOutcome;
  const outcome = chosen && (chosen.target === undefined || chosen.target === verb.target) ? chosen : ANSWERED_AT_ONCE;
  const secondMs = outcome.secondMs ?? 1000;
  const dialCallSid = newSid('CA');
  const party = new PartyProgress(ctx, call, verb, dialCallSid, partyUrl);
  let status = outcome.status;
  let ringSeconds = 0;
  if (status === 'no-answer') ringSeconds = verb.timeout;
  else if (status === 'completed' || status === 'canceled') {
    ringSeconds = outcome.ringSeconds ?? 0;
    // Twilio stops ringing at the timeout: a party that would answer (or be canceled) later never does
    if (ringSeconds >= verb.timeout) [status, ringSeconds] = ['no-answer', verb.timeout];
  }
  party.post('initiated', 'initiated');
  // a party Twilio could not reach (busy, failed) never rang
  if (status !== 'busy' && status !== 'failed') party.post('ringing', 'ringing');
  // the caller hears ringback, then the party: what a recording of the call holds
  if (ringSeconds > 0) hearCall(call);
  if (!(await abortableSleep(ringSeconds * secondMs, signal))) {
    // the caller hung up, or the call was moved, while the party rang: its call is canceled
    party.post('completed', 'canceled');
    return null;
  }

  let talkSeconds = 0;
  let callerGone = false;
  if (status === 'completed') {
    party.post('answered', 'in-progress');
    talkSeconds = outcome.talkSeconds ?? 0;
    if (talkSeconds > 0) hearCall(call);
    const started = Date.now();
    if (!(await abortableSleep(talkSeconds * secondMs, signal))) {
      // the caller's side ended the talk: how long it lasted, in emulated seconds
      talkSeconds = Math.floor((Date.now() - started) / secondMs);
      callerGone = call.finished;
      if (!callerGone) {
        party.post('completed', 'completed', talkSeconds);
        return null;
      }
    }
  }
  party.post('completed', status, talkSeconds);
  ctx.timeline.add({ type: 'dial', callSid: call.sid, dialCallSid, target: verb.target, status, ringSeconds, talkSeconds });
  const params: Record<string, string> = {
    DialCallStatus: status,
    DialCallSid: dialCallSid,
    DialBridged: status === 'completed' ? 'true' : 'false',
  };
  if (status === 'completed') params.DialCallDuration = String(talkSeconds);
  return { status, params, callerGone };
}

/**
 * The dialled party's call progress callbacks, each sent only if its noun asked for the event
 * (twiml.ts PartyCallback), signed as every webhook, without holding the dial up (Twilio sends
 * them on their own). Their parameters are a call's (Twilio's docs: a status callback carries
 * the voice request's parameters and CallbackSource, SequenceNumber, Timestamp; CallDuration and
 * Duration once completed) for the dialled call: its own CallSid, the caller's as ParentCallSid,
 * Direction outbound-dial, To the party as dialled (`client:NAME` for a <Client>), From the
 * caller's number (<Dial callerId>'s default). `answered` is reported as CallStatus in-progress.
 */
class PartyProgress {
  private sequence = 0;
  constructor(
    private readonly ctx: EmulatorContext,
    private readonly call: Call,
    private readonly verb: DialVerb,
    private readonly dialCallSid: string,
    private readonly url: string | undefined,
  ) {}

  post(event: PartyEvent, callStatus: string, talkSeconds = 0): void {
    const cb = this.verb.partyCallback;
    if (!cb || !this.url || !cb.events.includes(event)) return;
    const to = this.verb.targetKind === 'Client' ? `client:${this.verb.target}` : this.verb.target;
    const params: Record<string, string> = {
      AccountSid: this.ctx.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: this.dialCallSid,
      ParentCallSid: this.call.sid,
      CallStatus: callStatus,
      Direction: 'outbound-dial',
      From: this.call.from,
      To: to,
      Caller: this.call.from,
      Called: to,
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(this.sequence++),
      Timestamp: rfc2822(new Date()),
    };
    if (event === 'completed') {
      params.CallDuration = String(talkSeconds);
      params.Duration = String(Math.ceil(talkSeconds / 60));
    }
    // the timeline names the caller's call, whose <Dial> this is (the dialled call's SID is in the params)
    void deliverWebhook(this.ctx, this.call.sid, 'dial-status-callback', this.url, cb.method, params);
  }
}

function hearCall(call: Call): void {
  for (const rec of call.recordings) rec.hear();
}
