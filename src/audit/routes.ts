/**
 * `GET /v1/calls/:callSid/audit` (CONTRACT §5): a supervisor's (or admin's) view of one call's
 * PII-free audit trail and whether its hash chain holds.
 *
 * Order of checks: token (401), then whether the token may see the call (404, before anything
 * else can leak that the call exists), then role (403). The trail outlives the call record (it
 * is kept for assessors after the call expired or its caller was erased), so a supervisor or
 * admin still reads it when the record is gone; an agent never can.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { type TokenAuth, canSee, requireRole } from '../agents/auth';
import type { CallRepository } from '../calls/repository';
import { Errors } from '../errors';
import type { AuditTrail } from './trail';

const params = z.object({ callSid: z.string().regex(/^[A-Za-z0-9]{2,64}$/) });

export function auditRoutes(deps: { auth: TokenAuth; calls: CallRepository; audit: AuditTrail }): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/calls/:callSid/audit', async (request) => {
      const principal = deps.auth.fromRequest(request);
      const parsed = params.safeParse(request.params);
      if (!parsed.success) throw Errors.callNotFound();
      const { callSid } = parsed.data;
      const call = await deps.calls.get(callSid);
      const visible = call ? canSee(principal, call) : principal.role !== 'agent';
      if (!visible) throw Errors.callNotFound();
      requireRole(principal, 'supervisor', 'admin');
      const { entries, verified } = await deps.audit.verify(callSid);
      if (!call && entries.length === 0) throw Errors.callNotFound();
      return { entries, verified };
    });
  };
}
