/**
 * Which of the bus's call events an agent socket is told (the per-call rule, CONTRACT §5), and
 * the calls each socket was told of: socket.ts applies them to every event for every socket.
 */
import type { CallSession } from '../calls/session';
import type { CallEvent } from '../bus';
import { canSee, type Principal, type VisibleCall } from '../auth/tokens';

/** what the rule reads of an authenticated socket (socket.ts Client) */
export interface Listener {
  principal: Principal;
  /** the principal as the audit trail names them (`<role>:<digest>`) */
  actor: string;
  /**
   * The calls this socket was told of and not yet told the end of, oldest first: a call whose
   * record was erased while live is no one's to see any more, but its end still reaches the
   * panels that show it, so none keeps showing a call that is over.
   */
  heard: Set<string>;
}

/** calls a socket remembers having been told of; past it, the oldest is forgotten */
const HEARD_MAX = 4096;

/** the call as it stood while offered: who could see it then (canSee) was offered it */
function asOffered(s: CallSession): VisibleCall {
  return { state: 'offered', handoff: { mode: s.handoff.mode, to: s.handoff.to } };
}

/**
 * The per-call rule for an event: an agent sees an offer of a call with no handoff.to only while
 * it is offered (canSee). The end of the offer still reaches everyone it was offered to, so no
 * panel keeps offering a call no one can take: `handoff.taken` goes to those it was offered to
 * who no longer see the call (the agents who did not take it; the taker and supervisors see it
 * on, and hear `call.bridged`), and the `call.ended` of a call that ended offered (the caller hung
 * up, the hold timed out) to everyone it was offered to. These are decided from the call's record
 * as every instance reads it, so they hold for the sockets on every instance; a socket is never
 * told of a call that was not offered to it. An event for a call whose record is gone goes to
 * supervisors only, but for its end and a capture's progress and end, which also go to every
 * socket that was told of the call (Client.heard), and the call's end to the agent who accepted it
 * (the end of a bridge whose record an erasure took names them, by actor).
 */
export function visible(c: Listener, event: CallEvent, session: CallSession | null): boolean {
  if (session) {
    if (event.type === 'handoff.taken') return canSee(c.principal, asOffered(session)) && !canSee(c.principal, session);
    if (canSee(c.principal, session)) return true;
    return event.type === 'call.ended' && session.state === 'ended' && session.endedFrom === 'offered' && canSee(c.principal, asOffered(session));
  }
  if (c.principal.role !== 'agent') return event.type !== 'handoff.taken';
  if (event.type === 'call.ended') return c.heard.has(event.callSid) || (event.agent !== undefined && event.agent === c.actor);
  // a capture the socket was told of, whose record went under it (the store restarted empty, an
  // erasure): its progress and end still reach the panel showing it, which would show it running
  return event.type.startsWith('capture.') && c.heard.has(event.callSid);
}

export function heard(c: Listener, event: CallEvent): void {
  // the offer or the call is over for this socket: nothing more of it is owed to it
  if (event.type === 'call.ended' || event.type === 'handoff.taken') {
    c.heard.delete(event.callSid);
    return;
  }
  c.heard.delete(event.callSid);
  c.heard.add(event.callSid);
  if (c.heard.size > HEARD_MAX) c.heard.delete(c.heard.values().next().value as string);
}
