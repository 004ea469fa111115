/**
 * What an agent can do to a call, shared by the REST routes and the WebSocket: every action
 * loads the call and applies the per-call rule first (404 for a call the token may not see),
 * then does its own checks. Each action that changes the call is audited naming its actor
 * (AuditTrail.actor), made here from the principal: only that digest, never the `sub`, travels
 * on to the captures and payments (and over the bus to the instance holding the bridge).
 */
import { isCallSid } from '../sids';
import type { ZodType, ZodTypeDef } from 'zod';
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import { captureRequestSchema, captureView, type CaptureService } from '../captures';
import { PaymentRefused, paymentRequestSchema, paymentUpdateSchema, type PaymentSessions, type PaymentView } from '../captures/payments';
import type { StartResult } from '../captures/types';
import { AgentErrors, Errors } from '../errors';
import { canSee, type Principal } from '../auth/tokens';
import { acceptOffer, type OfferDeps } from './offers';
import { callView } from './views';

export interface AgentActionDeps extends OfferDeps {
  calls: CallRepository;
  captures: CaptureService;
  payments: PaymentSessions;
}

type StartRefusal = Extract<StartResult, { ok: false }>['error'];

function startRefused(reason: StartRefusal): Error {
  switch (reason) {
    case 'capture-running':
      return Errors.captureRunning();
    case 'recording-pause-failed':
      return AgentErrors.capturePauseFailed();
    case 'not-bridged':
      return Errors.notBridged();
    case 'call-not-found':
      return Errors.callNotFound();
    default:
      return Errors.timeout({ detail: 'the instance holding the call did not answer' });
  }
}

function paymentRefused(e: unknown): unknown {
  if (!(e instanceof PaymentRefused)) return e;
  switch (e.reason) {
    case 'payment-open':
      return Errors.paymentOpen();
    case 'payment-not-found':
      return Errors.paymentNotFound();
    case 'payment-ended':
      return Errors.paymentEnded();
    case 'unknown-field':
      return Errors.paymentUnknownField();
    case 'payment-incomplete':
      // field names only: they are the flow's or the agent's words, never a value
      return Errors.paymentIncomplete({ detail: (e.required ?? []).join(', ') });
    default:
      return startRefused(e.reason);
  }
}

function parsed<T>(schema: ZodType<T, ZodTypeDef, unknown>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw Errors.badRequest({ detail: r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
  return r.data;
}

export async function visibleCall(calls: CallRepository, p: Principal, callSid: unknown): Promise<CallSession> {
  const s = isCallSid(callSid) ? await calls.get(callSid) : null;
  if (!s || !canSee(p, s)) throw Errors.callNotFound();
  return s;
}

export class AgentActions {
  constructor(private readonly d: AgentActionDeps) {}

  async accept(p: Principal, callSid: unknown) {
    const s = await visibleCall(this.d.calls, p, callSid);
    return callView(await acceptOffer(this.d, p, s));
  }

  async startCapture(p: Principal, callSid: unknown, body: unknown): Promise<{ captureId: string }> {
    const s = await visibleCall(this.d.calls, p, callSid);
    const r = await this.d.captures.start(s, parsed(captureRequestSchema, body), this.d.audit.actor(p));
    if (r.ok) return { captureId: r.captureId };
    throw startRefused(r.error);
  }

  async getCapture(p: Principal, callSid: unknown, captureId: unknown) {
    const s = await visibleCall(this.d.calls, p, callSid);
    const r = typeof captureId === 'string' ? await this.d.captures.get(s.callSid, captureId) : null;
    if (!r) throw Errors.captureNotFound();
    return captureView(r);
  }

  /**
   * Cancels a capture; `captureId` undefined (the socket's `capture.cancel`, whose contract names
   * no capture) is the call's running one, and with none running it is not found, as a DELETE
   * naming no capture of the call is.
   */
  async cancelCapture(p: Principal, callSid: unknown, captureId: unknown) {
    const s = await visibleCall(this.d.calls, p, callSid);
    const id = captureId === undefined ? (s.capture?.status === 'capturing' ? s.capture.id : undefined) : captureId;
    const record = typeof id === 'string' ? await this.d.captures.get(s.callSid, id) : null;
    if (!record) throw Errors.captureNotFound();
    if (record.status === 'capturing') {
      const r = await this.d.captures.cancel(s, record.captureId, this.d.audit.actor(p));
      if (!r.ok && r.error === 'instance-unreachable') throw Errors.timeout({ detail: 'the instance holding the call did not answer' });
    }
    const after = await this.d.captures.get(s.callSid, record.captureId);
    return captureView(after ?? record);
  }

  async startPayment(p: Principal, callSid: unknown, body: unknown): Promise<PaymentView> {
    const s = await visibleCall(this.d.calls, p, callSid);
    const request = parsed(paymentRequestSchema, body ?? {});
    if (s.state !== 'bridged') throw Errors.notBridged();
    return this.d.payments.create(s, request, this.d.audit.actor(p)).catch((e: unknown) => {
      throw paymentRefused(e);
    });
  }

  async getPayment(p: Principal, callSid: unknown, paymentId: unknown): Promise<PaymentView> {
    const s = await visibleCall(this.d.calls, p, callSid);
    return this.d.payments.get(s, String(paymentId)).catch((e: unknown) => {
      throw paymentRefused(e);
    });
  }

  /** Twilio's Payments update: `{capture: field}` asks for a field (again), `{status}` completes or cancels */
  async updatePayment(p: Principal, callSid: unknown, paymentId: unknown, body: unknown): Promise<PaymentView> {
    const s = await visibleCall(this.d.calls, p, callSid);
    const update = parsed(paymentUpdateSchema, body);
    return this.d.payments.update(s, String(paymentId), update, this.d.audit.actor(p)).catch((e: unknown) => {
      throw paymentRefused(e);
    });
  }
}
