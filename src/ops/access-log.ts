/**
 * One access-log line per agent, supervisor or admin request with the client's IP (issue 11). The IP is the peer's address, or, when the peer is a
 * TRUST_PROXY address, the one it forwarded (X-Forwarded-For): never a header anyone can set.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { principalOf, type Principal } from '../auth/tokens';
import { redactUrl } from '../log';
import { isRateLimited } from './rate-limit';

/** people's requests (the agent API, panel, admin routes): who, from where, what, and the outcome */
export function registerAccessLog(app: FastifyInstance, actor: (p: Principal) => string): void {
  // callback-style: an async hook costs a promise on every request, and most (Twilio's webhooks) log nothing here
  app.addHook('onResponse', (req, reply, done) => {
    if (isRateLimited(req)) logRequest(req, reply, actor);
    done();
  });
}

function logRequest(req: FastifyRequest, reply: FastifyReply, actor: (p: Principal) => string): void {
  const p = principalOf(req);
  req.log.info(
    {
      ip: req.ip,
      method: req.method,
      url: redactUrl(req.url),
      statusCode: reply.statusCode,
      // the user as the audit trail names them, never the token's `sub` (an employee number or email)
      ...(p ? { actor: actor(p), role: p.role } : {}),
    },
    'agent request',
  );
}
