/**
 * Taking an offered call (CONTRACT §5): a token that names no endpoint is refused (422), then the
 * first accept wins, atomically across instances (SET NX on the call's offer key), then the session
 * names the agent and, in bridge mode, the instance holding the caller's bridge is told to dial the
 * agent's endpoint (`dial-agent`); in dial mode the caller's call is moved to a <Dial> of it
 * (`dialCaller`). Once the offer is taken, `handoff.taken` is published, before the dial, so the
 * others it was offered to drop it at once (agents/socket.ts tells only those who no longer see
 * the call); the bridge announces `call.bridged` once the agent's audio is up; a dial is
 * Twilio's alone.
 *
 * The accept is in the record (`bridging`, the agent's endpoint) before `dial-agent` is sent, and
 * the record, not the command, is what counts: a bridge lost while the command is on its way
 * leaves it with no bridge to dial into where it lands, and the instance that takes the caller's
 * stream up dials the accepted agent from the record (media/registry.ts `onCallerStarted`); one
 * whose own dial was under way as it lost the bridge ends the call it placed. A command lost on
 * its way (this instance gone before it published, pub/sub dropping it) is made up for by the
 * instance holding the caller, which reads the record again while they hold (media/held-caller.ts
 * `recheck`). So the agent's 200 stands: they are dialled wherever the caller is held.
 *
 * The accept is audited (`agent.accepted`, naming its actor) after the offer is taken; an append
 * that fails then (a store outage, a refused entry) is logged, and the agent is still dialled:
 * the offer is this agent's already, and failing the accept would leave the caller waiting with
 * no one dialled. A publish that fails is logged the same way: the others' panels then learn of
 * it when they next read the calls.
 */
import type { CallEvent, InstanceCommand } from '../bus';
import type { CallRepository } from '../calls/repository';
import { CALL_TTL_SECONDS, type CallSession } from '../calls/session';
import type { Logger } from 'pino';
import { AgentErrors, Errors } from '../errors';
import { errFields } from '../log';
import type { Keys, Store } from '../store';
import type { Principal } from '../auth/tokens';

export interface OfferDeps {
  store: Store;
  keys: Keys;
  calls: CallRepository;
  audit: {
    append(callSid: string, entry: { type: string; [k: string]: string | number | boolean | undefined }): Promise<void>;
    /** the principal as an entry's `actor` names them (AuditTrail.actor) */
    actor(p: Principal): string;
  };
  log: Logger;
  /** publishes on the event bus (`handoff.taken`) */
  publish(event: CallEvent): Promise<void>;
  /** sends `dial-agent` to the instance holding the bridge */
  sendCommand(instanceId: string, command: InstanceCommand): Promise<void>;
  /**
   * Dial mode: moves the caller's call, waiting in its hold loop, to a <Dial> of `endpoint`
   * (twilio/dial-offer.ts `dialCaller`, given by app-routes.ts: agents/ does not import the Twilio edge).
   * It does not throw: a move that fails is made by the hold loop.
   */
  dialCaller(callSid: string, endpoint: string, log: Logger): Promise<void>;
}

/**
 * A bridge offer is taken by the instance holding the caller's stream, which dials the agent's
 * leg; a dial offer (dial mode without `to`) by any instance, which moves the caller's call to a
 * <Dial> of the agent's endpoint over Twilio's REST API.
 */
function offered(s: CallSession): boolean {
  if (s.state !== 'offered' || s.handoff.to || s.handoff.agentSub) return false;
  return s.handoff.mode === 'dial' || Boolean(s.instanceId);
}

export async function acceptOffer(d: OfferDeps, p: Principal, session: CallSession): Promise<CallSession> {
  // before the offer is taken: a token with nothing to dial (a supervisor's or admin's) leaves it to others
  const endpoint = p.endpoint;
  if (endpoint === undefined) throw AgentErrors.noEndpoint();
  if (!offered(session)) throw Errors.conflict({ detail: 'the call is not offered' });
  const won = await d.store.setIfAbsent(d.keys.offer(session.callSid), p.sub, CALL_TTL_SECONDS);
  if (!won) throw Errors.conflict({ detail: 'the call was already accepted' });
  const dial = session.handoff.mode === 'dial';
  const actor = d.audit.actor(p);
  const updated = await d.calls.update(session.callSid, (s) => {
    if (s.state !== 'offered' || s.handoff.agentSub) return false;
    s.handoff.agentSub = p.sub;
    s.handoff.agentActor = actor;
    s.handoff.agentEndpoint = endpoint;
    if (dial) {
      s.state = 'dialed';
      s.handoff.acceptedAt = Date.now();
    } else s.state = 'bridging';
  });
  if (!updated || updated.handoff.agentSub !== p.sub) {
    // The offer was ours, but the call was not: it ended, or its caller was erased, after it was
    // read (an erasure removes the offer before it ends and removes the record). Taken back, so
    // nothing that names the call is left behind it.
    await d.store.del(d.keys.offer(session.callSid));
    // gone: erased (or expired), as an accept that read no record answers
    if (!updated) throw Errors.callNotFound();
    throw Errors.conflict({ detail: 'the call is not offered' });
  }
  await d.audit
    .append(session.callSid, { type: 'agent.accepted', role: p.role, actor })
    .catch((e: unknown) => d.log.error({ callSid: session.callSid, err: errFields(e) }, 'audit append failed after an accept'));
  await d
    .publish({ type: 'handoff.taken', callSid: session.callSid })
    .catch((e: unknown) => d.log.error({ callSid: session.callSid, err: errFields(e) }, 'offer taken event failed after an accept'));
  if (dial) await d.dialCaller(session.callSid, endpoint, d.log);
  else
    await d.sendCommand(updated.instanceId ?? session.instanceId!, {
      type: 'dial-agent',
      callSid: session.callSid,
      endpoint,
      agentSub: p.sub,
      agentActor: actor,
    });
  return updated;
}
