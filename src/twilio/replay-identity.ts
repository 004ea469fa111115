/**
 * What a webhook means, for the replay guard (replay.ts): its call and what makes it unique on
 * that call. Only a well-formed CallSid names a call; a request without one gets no identity
 * and its handler refuses it before anything happens.
 */
import { CALL_SID } from '../sids';
import type { ReplayIdentity } from './replay';

export type Identify = (params: Record<string, string>, signature: string) => ReplayIdentity | null;

function callSidOf(params: Record<string, string>): string | null {
  const sid = params.CallSid;
  return typeof sid === 'string' && CALL_SID.test(sid) ? sid : null;
}

/** a call's first webhook: once per call, whatever else it carries */
export const voiceIdentity: Identify = (params) => {
  const callSid = callSidOf(params);
  return callSid ? { callSid, parts: ['voice'] } : null;
};

/**
 * A <Gather> action: once per (call, step, attempt), the path segments the service wrote into
 * its own TwiML; the second entry of a requireMatchingInputs pair (`/confirm`) is another, and
 * so is a Gather asked again after a stray key (`/again`).
 */
export const gatherIdentity =
  (step: string, attempt: string, confirm = false, again = false): Identify =>
  (params) => {
    const callSid = callSidOf(params);
    return callSid ? { callSid, parts: ['gather', step, attempt, ...(confirm ? ['confirm'] : []), ...(again ? ['again'] : [])] } : null;
  };

/** a guard's action (flows/steps/collect.ts guardAfter): once per (call, step it goes on from); `failed`, a failed stretch's guard (twilio/stretch-rescue.ts) */
export const guardIdentity =
  (step: string, failed = false): Identify =>
  (params) => {
    const callSid = callSidOf(params);
    return callSid ? { callSid, parts: ['guard', step, ...(failed ? ['failed'] : [])] } : null;
  };

/**
 * The <Redirect> after a bridge's <Connect>, its stream ended (bridge-lost.ts): once per (call, leg, stream
 * number), the path segment the service wrote; the next loss of the same call has the next number,
 * and the same action passed on by a draining instance its next `hop`.
 */
export const bridgeLostIdentity =
  (leg: string, n: string, hop?: number): Identify =>
  (params) => {
    const callSid = callSidOf(params);
    return callSid ? { callSid, parts: ['bridge-lost', leg, n, ...(hop ? [`hop${hop}`] : [])] } : null;
  };

/** a dial offer's hold loop (dial-offer.ts): each ask its own request, by its hop */
export const dialHoldIdentity =
  (hop: string): Identify =>
  (params) => {
    const callSid = callSidOf(params);
    return callSid ? { callSid, parts: ['dial-hold', hop] } : null;
  };

/** a dial handoff's <Dial> action (dial-status.ts): once per call, which has one dial handoff */
export const dialStatusIdentity: Identify = (params) => {
  const callSid = callSidOf(params);
  return callSid ? { callSid, parts: ['dial-status'] } : null;
};

/**
 * A status or recording callback: Twilio sends several per call, each signed differently; every
 * copy of one (a retry, a resend, the same bytes cut at other parameter boundaries) shares its
 * signature.
 */
export const callbackIdentity =
  (route: string): Identify =>
  (params, signature) => {
    const callSid = callSidOf(params);
    return callSid ? { callSid, parts: [route, signature] } : null;
  };

/**
 * The status callback of a handoff <Dial>'s party (dial-answered.ts): the caller's call it
 * reports on (ParentCallSid: its replay memory goes with that call's), each copy of one callback
 * sharing its signature, as callbackIdentity.
 */
export const dialAnsweredIdentity: Identify = (params, signature) => {
  const parent = params.ParentCallSid;
  return typeof parent === 'string' && CALL_SID.test(parent) && callSidOf(params) ? { callSid: parent, parts: ['dial-answered', signature] } : null;
};
