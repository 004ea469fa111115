/**
 * The agent REST API (CONTRACT §5). Every route authenticates first (401), then applies the
 * per-call rule: a call the token may not see is 404, before any other check.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { CallRepository } from '../calls/repository';
import { type AgentActions, visibleCall } from './actions';
import { canSee, type Principal, type TokenAuth } from '../auth/tokens';
import { MalformedJsonBody, refuseMalformedBody } from '../errors';
import { noStore } from '../security-headers';
import { schemas } from './schemas';
import { callView } from './views';

export { visibleCall } from './actions';

export interface AgentRouteDeps {
  auth: TokenAuth;
  calls: CallRepository;
  actions: AgentActions;
}

type CallParams = { Params: { callSid: string } };
type CaptureParams = { Params: { callSid: string; captureId: string } };
type PaymentParams = { Params: { callSid: string; paymentId: string } };

export function agentRoutes(d: AgentRouteDeps): FastifyPluginAsync {
  return async (app) => {
    noStore(app);
    const principal = (req: FastifyRequest) => d.auth.fromRequest(req);
    // bodies and params are parsed in the handlers, after 401 and 404 (see schemas.ts)
    const opts = <S>(schema: S) => ({ schema, attachValidation: true });
    // a body that did not parse (ops/json-body.ts): 400, once the token (401) and the call (404) hold
    const bodyOf = async (req: FastifyRequest<CallParams>, p: Principal): Promise<unknown> => {
      if (req.body instanceof MalformedJsonBody) {
        await visibleCall(d.calls, p, req.params.callSid);
        refuseMalformedBody(req.body);
      }
      return req.body;
    };

    app.get('/v1/calls', opts(schemas.listCalls), async (req) => {
      const p = await principal(req);
      const calls = (await d.calls.listFresh()).filter((s) => canSee(p, s)).sort((a, b) => a.createdAt - b.createdAt);
      return { calls: calls.map(callView) };
    });

    app.get<CallParams>('/v1/calls/:callSid', opts(schemas.getCall), async (req) => {
      const p = await principal(req);
      return callView(await visibleCall(d.calls, p, req.params.callSid));
    });

    app.post<CallParams>('/v1/calls/:callSid/accept', opts(schemas.accept), async (req) => {
      const p = await principal(req);
      await bodyOf(req, p);
      return d.actions.accept(p, req.params.callSid);
    });

    app.post<CallParams>('/v1/calls/:callSid/captures', opts(schemas.startCapture), async (req, reply) => {
      const p = await principal(req);
      const started = await d.actions.startCapture(p, req.params.callSid, await bodyOf(req, p));
      return reply.code(201).send(started);
    });

    app.get<CaptureParams>('/v1/calls/:callSid/captures/:captureId', opts(schemas.getCapture), async (req) => {
      const p = await principal(req);
      return d.actions.getCapture(p, req.params.callSid, req.params.captureId);
    });

    app.delete<CaptureParams>('/v1/calls/:callSid/captures/:captureId', opts(schemas.cancelCapture), async (req) => {
      const p = await principal(req);
      await bodyOf(req, p);
      return d.actions.cancelCapture(p, req.params.callSid, req.params.captureId);
    });

    // agent-assisted payments: Twilio's Payments subresource on tonewall's captures (captures/payments.ts)
    app.post<CallParams>('/v1/calls/:callSid/payments', opts(schemas.startPayment), async (req, reply) => {
      const p = await principal(req);
      return reply.code(201).send(await d.actions.startPayment(p, req.params.callSid, await bodyOf(req, p)));
    });

    app.get<PaymentParams>('/v1/calls/:callSid/payments/:paymentId', opts(schemas.getPayment), async (req) => {
      const p = await principal(req);
      return d.actions.getPayment(p, req.params.callSid, req.params.paymentId);
    });

    app.post<PaymentParams>('/v1/calls/:callSid/payments/:paymentId', opts(schemas.updatePayment), async (req) => {
      const p = await principal(req);
      return d.actions.updatePayment(p, req.params.callSid, req.params.paymentId, await bodyOf(req, p));
    });
  };
}
