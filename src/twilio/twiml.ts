/**
 * Verbs → TwiML with the `twilio` package's VoiceResponse; never hand-built XML.
 */
import twilio from 'twilio';
import { systemMessage, type SystemMessage } from '../flows/prompt-defaults';
import type { Flow } from '../flows/schema';
import type { PromptPart, Verb } from '../flows/verbs';
import type { BridgeTwiml } from '../media/registry';
import { TwilioErrors } from '../errors';

type VoiceResponse = InstanceType<typeof twilio.twiml.VoiceResponse>;
type SayAttributes = Parameters<VoiceResponse['say']>[0];
/** what <Say> and <Play> can go into: the response itself or a <Gather> */
type Speaker = Pick<VoiceResponse, 'say' | 'play'>;

export interface RenderContext {
  publicUrl: string;
  flow?: Flow;
  /** bridge mode: the single-use wss URL of the caller's media stream */
  streamUrl?: string;
  /**
   * bridge mode: which of the caller's streams that is (CallSession handoff.streams), when a
   * bridge lost with its instance is taken up by another (a shared store): its <Redirect> after <Connect>
   * names it. Absent (the embedded store's one instance): no redirect, the call ends with its stream.
   */
  streamNumber?: number;
  /**
   * the query on the <Gather> and guard actions (action-query.ts): what a webhook that fails
   * needs without the store, a drop-in capture's return to its app or the recordings a plain
   * call's sensitive stretch holds paused. None otherwise.
   */
  actionQuery?: string;
}

function sayAttrs(flow?: Flow, own?: { language?: string; voice?: string }): SayAttributes {
  const a: Record<string, string> = {};
  const language = own?.language ?? flow?.language;
  const voice = own?.voice ?? flow?.voice;
  if (language) a.language = language;
  if (voice) a.voice = voice;
  return a as SayAttributes;
}

function speak(to: Speaker, p: PromptPart, flow?: Flow): void {
  if ('play' in p) to.play(p.play);
  else to.say(sayAttrs(flow, p), p.say);
}

/**
 * Rendered documents by their verbs and context. Verbs hold flow text, step numbers and the
 * handoff target only (never a caller's value), so the first TwiML of every call to one flow is
 * the same document; VoiceResponse (xmlbuilder) was ~5% of a /voice's CPU. A bridge handoff
 * carries a single-use stream URL, and the actions of a drop-in capture or a sensitive stretch a
 * query of their own call's: neither is cached.
 */
const RENDERED_MAX = 256;
const rendered = new Map<string, string>();

export function renderVerbs(verbs: Verb[], ctx: RenderContext): string {
  if (ctx.streamUrl || ctx.actionQuery) return build(verbs, ctx);
  const key = JSON.stringify([ctx.publicUrl, ctx.flow?.language, ctx.flow?.voice, verbs]);
  let xml = rendered.get(key);
  if (xml === undefined) {
    xml = build(verbs, ctx);
    if (rendered.size >= RENDERED_MAX) rendered.delete(rendered.keys().next().value as string);
    rendered.set(key, xml);
  }
  return xml;
}

/** the bytes of the document `verbs` render to, rendered afresh (twilio/document-size.ts): never cached */
export function documentBytes(verbs: Verb[], ctx: RenderContext): number {
  return Buffer.byteLength(build(verbs, ctx), 'utf8');
}

function build(verbs: Verb[], ctx: RenderContext): string {
  const r = new twilio.twiml.VoiceResponse();
  for (const v of verbs) {
    switch (v.verb) {
      case 'say':
        r.say(sayAttrs(ctx.flow, v), v.text);
        break;
      case 'play':
        r.play(v.url);
        break;
      case 'gather': {
        const g = r.gather({
          input: ['dtmf'],
          finishOnKey: '#',
          ...(v.numDigits ? { numDigits: v.numDigits } : {}),
          timeout: v.timeoutSeconds,
          actionOnEmptyResult: true,
          method: 'POST',
          action: `${ctx.publicUrl}/twilio/gather/${v.step}/${v.attempt}${v.confirm ? '/confirm' : ''}${v.again ? '/again' : ''}${ctx.actionQuery ? `?${ctx.actionQuery}` : ''}`,
        });
        for (const p of v.prompts) speak(g, p, ctx.flow);
        break;
      }
      case 'guard':
        // says nothing, takes no '#' (finishOnKey empty), ends only on the caller's silence; Twilio
        // asks its action even when nothing was keyed (actionOnEmptyResult)
        r.gather({
          input: ['dtmf'],
          finishOnKey: '',
          timeout: v.timeoutSeconds,
          actionOnEmptyResult: true,
          method: 'POST',
          action: `${ctx.publicUrl}/twilio/guard/${v.step}${v.failed ? '/failed' : ''}${ctx.actionQuery ? `?${ctx.actionQuery}` : ''}`,
        });
        break;
      case 'start-recording':
        startRecording(r, `${ctx.publicUrl}/twilio/recording-status`);
        break;
      case 'handoff':
        renderHandoff(r, v.handoff, ctx);
        break;
      case 'hangup':
        r.hangup();
        break;
    }
  }
  return r.toString();
}

/**
 * <Start><Recording>: dual channel (the party on one, what Twilio plays them on the other), with
 * the callbacks that give the service the recording's SID and tell it when the recording ended
 * or never began.
 */
export function startRecording(r: VoiceResponse, statusCallbackUrl: string): void {
  r.start().recording({
    channels: 'dual',
    recordingStatusCallback: statusCallbackUrl,
    recordingStatusCallbackEvent: ['in-progress', 'completed', 'absent'],
  });
}

function renderHandoff(r: VoiceResponse, h: Extract<Verb, { verb: 'handoff' }>['handoff'], ctx: RenderContext): void {
  if (h.mode === 'bridge') {
    if (!ctx.streamUrl) throw TwilioErrors.streamUrlMissing();
    callerStream(r, ctx.publicUrl, ctx.streamUrl, ctx.streamNumber);
    return;
  }
  if (!h.to) {
    // offered to the connected agents (CONTRACT §3): the caller waits until one accepts (dial-offer.ts)
    dialHold(r, ctx.publicUrl, 1, DIAL_HOLD_CHECK_SECONDS);
    return;
  }
  if (h.to.startsWith('queue:')) {
    r.enqueue(h.to.slice('queue:'.length));
    return;
  }
  dialEndpoint(r, h.to, `${ctx.publicUrl}/twilio/dial-status`, dialAnsweredUrl(ctx.publicUrl));
}

/** a plain <Dial> of an agent's endpoint (`client:NAME`, `sip:URI`, an E.164 number), its end requested at `action` (dial-status.ts) */
/**
 * Where Twilio tells the service that the party a handoff's <Dial> rang answered (dial-answered.ts):
 * the noun's statusCallback, asked for its `answered` event alone (Twilio's docs, <Number>,
 * <Client>, <Sip>: statusCallbackEvent; the <Dial action> is requested only once the dial is over).
 */
export function dialAnsweredUrl(publicUrl: string): string {
  return `${publicUrl}/twilio/dial-answered`;
}

/** a <Dial> of `to` with its end requested at `action`; with `answered`, its party's answer reported there too */
function dialEndpoint(r: VoiceResponse, to: string, action: string, answered?: string): void {
  const dial = r.dial({ action, method: 'POST' });
  const told = answered ? { statusCallbackEvent: ['answered' as const], statusCallback: answered, statusCallbackMethod: 'POST' as const } : {};
  if (to.startsWith('client:')) dial.client(told, to.slice('client:'.length));
  else if (to.startsWith('sip:')) dial.sip(told, to);
  else dial.number(told, to);
}

/**
 * How often a caller waiting for an offered dial call to be accepted asks again (a <Pause> this
 * long, then a <Redirect> to `/twilio/dial-hold/:hop`): an accept does not wait for it (it moves
 * the call at once over REST), so this bounds only how late the hold timeout is noticed.
 */
export const DIAL_HOLD_CHECK_SECONDS = 5;

/** where a waiting dial caller's `hop`-th redirect goes (handoff-routes.ts `/twilio/dial-hold/:hop`) */
export function dialHoldUrl(publicUrl: string, hop: number): string {
  return `${publicUrl}/twilio/dial-hold/${hop}`;
}

function dialHold(r: VoiceResponse, publicUrl: string, hop: number, seconds: number): void {
  r.pause({ length: seconds });
  r.redirect({ method: 'POST' }, dialHoldUrl(publicUrl, hop));
}

/** a dial caller waiting for an accept: `seconds` of silence, then the `hop`-th ask again */
export function dialHoldTwiml(publicUrl: string, hop: number, seconds: number): string {
  const r = new twilio.twiml.VoiceResponse();
  dialHold(r, publicUrl, hop, seconds);
  return r.toString();
}

/**
 * An accepted dial offer: the caller's call moved to a plain <Dial> of the accepting agent's
 * endpoint, with the same action as a dial handoff with `to` (dial-status.ts: a dial that does
 * not connect ends in the no-agent apology). The action is absolute, as Twilio requires of TwiML
 * given to a call in progress (error 15004).
 */
export function dialAgentTwiml(publicUrl: string, endpoint: string): string {
  const r = new twilio.twiml.VoiceResponse();
  dialEndpoint(r, endpoint, `${publicUrl}/twilio/dial-status`, dialAnsweredUrl(publicUrl));
  return r.toString();
}

/**
 * Where Twilio goes when a bridge's stream ends with the call still up: the `n`-th stream of the
 * caller's call, or with `agentOf` the agent leg of that caller's bridge. A stream the service
 * ends on purpose ends its call first, so only a stream lost with its instance (drained, stopped,
 * cut off) comes here (twilio/bridge-lost.ts).
 */
export function bridgeLostUrl(publicUrl: string, n: number, agentOf?: string, hop?: number): string {
  const query = [...(agentOf ? [`leg=agent`, `call=${encodeURIComponent(agentOf)}`] : []), ...(hop ? [`hop=${hop}`] : [])];
  return `${publicUrl}/twilio/bridge-lost/${n}${query.length ? `?${query.join('&')}` : ''}`;
}

/**
 * A draining instance's answer to a caller's lost-bridge action: a second's silence, then the
 * same action again (its next `hop`), which the load balancer, by then, sends to another instance.
 */
export function passOnTwiml(publicUrl: string, n: number, hop: number): string {
  const r = new twilio.twiml.VoiceResponse();
  r.pause({ length: 1 });
  r.redirect({ method: 'POST' }, bridgeLostUrl(publicUrl, n, undefined, hop));
  return r.toString();
}

/**
 * A draining instance's answer to a new call's first webhook: a second's silence, then the same
 * webhook again (its next `hop`), which the load balancer, by then, sends to another instance.
 * Nothing is written for the call here; the instance that takes it opens it, as a call answered
 * before its first webhook (`CallStatus` in-progress).
 */
export function passOnCallTwiml(publicUrl: string, hop: number): string {
  const r = new twilio.twiml.VoiceResponse();
  r.pause({ length: 1 });
  r.redirect({ method: 'POST' }, `${publicUrl}/twilio/voice?hop=${hop}`);
  return r.toString();
}

/**
 * <Connect><Stream>, then, when `lost` is given, a <Redirect> to it: Twilio goes on to the verb
 * after <Connect> once its stream ends (a <Connect action> would do the same, but the contract's
 * bridge TwiML is a bare `<Connect><Stream url>`). A call whose TwiML the service replaces, or that
 * hangs up, never gets there.
 */
function bridgeStream(r: VoiceResponse, streamUrl: string, leg: 'caller' | 'agent', lost: string | undefined): void {
  r.connect().stream({ url: streamUrl }).parameter({ name: 'leg', value: leg });
  if (lost) r.redirect({ method: 'POST' }, lost);
}

/** the caller's `n`-th media stream, to this instance's bridge (nothing after it without `n`) */
function callerStream(r: VoiceResponse, publicUrl: string, streamUrl: string, n: number | undefined): void {
  bridgeStream(r, streamUrl, 'caller', n === undefined ? undefined : bridgeLostUrl(publicUrl, n));
}

/** a caller whose bridge's instance was lost: their next stream, to this instance (twilio/bridge-lost.ts) */
export function callerStreamTwiml(publicUrl: string, streamUrl: string, n: number): string {
  const r = new twilio.twiml.VoiceResponse();
  callerStream(r, publicUrl, streamUrl, n);
  return r.toString();
}

/**
 * How long an agent whose bridge's instance was lost waits for the caller's new bridge to call
 * them back in: a take-up takes a second or two (a draining instance's passes on, up to about
 * ten). The wait is asked again every AGENT_REJOIN_CHECK_SECONDS, so a caller who hung up
 * meanwhile ends it within that, not at its end.
 */
export const AGENT_REJOIN_WAIT_SECONDS = 30;

/** how often a waiting agent's call asks again whether its caller is still there */
export const AGENT_REJOIN_CHECK_SECONDS = 5;

/** the waits an agent's call is given at most (AGENT_REJOIN_WAIT_SECONDS in all) */
export const AGENT_REJOIN_CHECKS = AGENT_REJOIN_WAIT_SECONDS / AGENT_REJOIN_CHECK_SECONDS;

/**
 * An agent whose stream was lost with its instance: told so (the first time), then silence while
 * the caller's new stream reaches an instance, whose bridge redirects this call to it
 * (media/failover.ts `rejoinAgent`), which cuts the wait short. Each wait ends in the same
 * action again, its `check` counted (`hop`): the caller gone meanwhile, that ends the call.
 * Nothing of the caller reaches them here. No rejoin after the last wait: the call ends.
 */
export function agentWaitTwiml(publicUrl: string, n: number, callerSid: string, check: number): string {
  const r = new twilio.twiml.VoiceResponse();
  if (check >= AGENT_REJOIN_CHECKS) {
    r.hangup();
    return r.toString();
  }
  if (check === 0) r.say('Reconnecting your caller.');
  r.pause({ length: AGENT_REJOIN_CHECK_SECONDS });
  r.redirect({ method: 'POST' }, bridgeLostUrl(publicUrl, n, callerSid, check + 1));
  return r.toString();
}

/** the Content-Type of every TwiML answer */
export const TWIML_CONTENT_TYPE = 'text/xml';

export const APOLOGY = "We're sorry, we can't complete your request right now.";

/**
 * One of the service's own messages (flows/prompt-defaults.ts), in the words of the call's flow's
 * language and said in its language and voice, as the flow's own steps are; English with
 * Twilio's default voice when there is no flow.
 */
function saySystem(r: VoiceResponse, message: SystemMessage, flow?: Flow): void {
  r.say(sayAttrs(flow), systemMessage(message, flow?.language));
}

/** one of the service's own messages, then a clean hangup */
export function sayAndHangUpTwiml(message: SystemMessage, flow?: Flow): string {
  const r = new twilio.twiml.VoiceResponse();
  saySystem(r, message, flow);
  r.hangup();
  return r.toString();
}

/**
 * The query on the safe answer's <Dial action> (`/twilio/dial-status?fallback=1`), signed by
 * Twilio with the URL: its end is answered from the request alone (dial-status.ts), as the safe
 * answer is typically given because the store is unreachable.
 */
export const SAFE_DIAL_QUERY = 'fallback=1';

/**
 * What the caller hears when a step cannot be served (store down, flow error): a short apology
 * in the flow's language, then the flow's dial handoff if it has a fixed endpoint, else a clean
 * hangup. Never dead air: a dial that does not connect ends in the no-agent apology and a hangup
 * (its action, dial-status.ts `dialEndedTwiml`), never in silence, and never in another dial.
 */
export function safeTwiml(publicUrl: string, flow?: Flow): string {
  const h = flow?.handoff;
  if (h && h.mode === 'dial' && h.to && !h.to.startsWith('queue:')) {
    const r = new twilio.twiml.VoiceResponse();
    saySystem(r, 'apology-connecting', flow);
    dialEndpoint(r, h.to, `${publicUrl}/twilio/dial-status?${SAFE_DIAL_QUERY}`);
    return r.toString();
  }
  return sayAndHangUpTwiml('apology-goodbye', flow);
}

/**
 * A call to a number no flow claims: English, in Twilio's default voice. No flow means no
 * language anyone chose for this number, and the number itself does not say which one its
 * callers speak (the Spanish sample flow is on a +1 number).
 */
export function notInServiceTwiml(): string {
  return sayAndHangUpTwiml('not-in-service');
}

export function emptyTwiml(): string {
  return new twilio.twiml.VoiceResponse().toString();
}

/** the TwiML the bridge registry (media/) sends when it dials the agent leg or ends a caller's hold */
export const bridgeTwiml: BridgeTwiml = {
  agentLeg(streamUrl, lost, recordingStatusUrl) {
    const r = new twilio.twiml.VoiceResponse();
    if (recordingStatusUrl) startRecording(r, recordingStatusUrl);
    bridgeStream(r, streamUrl, 'agent', lost && bridgeLostUrl(lost.publicUrl, lost.n, lost.callerSid));
    return r.toString();
  },
  sayAndHangUp: sayAndHangUpTwiml,
};
