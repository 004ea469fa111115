/**
 * The agent REST API (CONTRACT §5). Every route authenticates first (401), then applies the
 * per-call rule: a call the token may not see is 404, before any other check.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import { Errors } from '../errors';
import { canSee, type Principal, type TokenAuth } from './auth';
import { callView } from './views';

export interface AgentRouteDeps {
  auth: TokenAuth;
  calls: CallRepository;
}

export async function visibleCall(d: AgentRouteDeps, p: Principal, callSid: string): Promise<CallSession> {
  const s = /^CA[0-9a-fA-F]{32}$/.test(callSid) ? await d.calls.get(callSid) : null;
  if (!s || !canSee(p, s)) throw Errors.callNotFound();
  return s;
}

export function agentRoutes(d: AgentRouteDeps): FastifyPluginAsync {
  return async (app) => {
    const principal = (req: FastifyRequest) => d.auth.fromRequest(req);

    app.get('/v1/calls', async (req) => {
      const p = principal(req);
      const calls = (await d.calls.list()).filter((s) => canSee(p, s)).sort((a, b) => a.createdAt - b.createdAt);
      return { calls: calls.map(callView) };
    });

    app.get<{ Params: { callSid: string } }>('/v1/calls/:callSid', async (req) => {
      const p = principal(req);
      return callView(await visibleCall(d, p, req.params.callSid));
    });
  };
}
