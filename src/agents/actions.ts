/**
 * What an agent can do to a call, shared by the REST routes and the WebSocket: every action
 * loads the call and applies the per-call rule first (404 for a call the token may not see),
 * then does its own checks.
 */
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import { captureRequestSchema, captureView, type CaptureService } from '../captures';
import { Errors, TonewallError } from '../errors';
import { canSee, type Principal } from '../auth/tokens';
import { acceptOffer, type OfferDeps } from './offers';
import { callView } from './views';

export interface AgentActionDeps extends OfferDeps {
  calls: CallRepository;
  captures: CaptureService;
}

const CALL_SID = /^CA[0-9a-fA-F]{32}$/;

export async function visibleCall(calls: CallRepository, p: Principal, callSid: unknown): Promise<CallSession> {
  const s = typeof callSid === 'string' && CALL_SID.test(callSid) ? await calls.get(callSid) : null;
  if (!s || !canSee(p, s)) throw Errors.callNotFound();
  return s;
}

/** 503 with the contract's body, not the error catalogue's code (CONTRACT §5) */
export class PauseFailedError extends TonewallError {
  constructor() {
    super('recording-pause-failed', 'the recording could not be paused', 503);
  }
}

export class AgentActions {
  constructor(private readonly d: AgentActionDeps) {}

  async accept(p: Principal, callSid: unknown) {
    const s = await visibleCall(this.d.calls, p, callSid);
    return callView(await acceptOffer(this.d, p, s));
  }

  async startCapture(p: Principal, callSid: unknown, body: unknown): Promise<{ captureId: string }> {
    const s = await visibleCall(this.d.calls, p, callSid);
    const parsed = captureRequestSchema.safeParse(body);
    if (!parsed.success) throw Errors.badRequest({ detail: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
    const r = await this.d.captures.start(s, parsed.data);
    if (r.ok) return { captureId: r.captureId };
    switch (r.error) {
      case 'capture-running':
        throw Errors.captureRunning();
      case 'recording-pause-failed':
        throw new PauseFailedError();
      case 'not-bridged':
        throw Errors.notBridged();
      case 'call-not-found':
        throw Errors.callNotFound();
      default:
        throw Errors.timeout({ detail: 'the instance holding the call did not answer' });
    }
  }

  async getCapture(p: Principal, callSid: unknown, captureId: unknown) {
    const s = await visibleCall(this.d.calls, p, callSid);
    const r = typeof captureId === 'string' ? await this.d.captures.get(s.callSid, captureId) : null;
    if (!r) throw Errors.captureNotFound();
    return captureView(r);
  }

  async cancelCapture(p: Principal, callSid: unknown, captureId: unknown) {
    const s = await visibleCall(this.d.calls, p, callSid);
    const record = typeof captureId === 'string' ? await this.d.captures.get(s.callSid, captureId) : null;
    if (!record) throw Errors.captureNotFound();
    if (record.status === 'capturing') {
      const r = await this.d.captures.cancel(s, record.captureId);
      if (!r.ok && r.error === 'instance-unreachable') throw Errors.timeout({ detail: 'the instance holding the call did not answer' });
    }
    const after = await this.d.captures.get(s.callSid, record.captureId);
    return captureView(after ?? record);
  }
}
