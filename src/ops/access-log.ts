/**
 * One access-log line per agent, supervisor or admin request with the client's IP (issue 11). The IP is the peer's address, or, when the peer is a
 * TRUST_PROXY address, the one it forwarded (X-Forwarded-For): never a header anyone can set.
 */
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../auth/tokens';
import { redactUrl } from '../log';
import { isRateLimited } from './rate-limit';

/** people's requests (the agent API, panel, admin routes): who, from where, what, and the outcome */
export function registerAccessLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (req, reply) => {
    if (!isRateLimited(req.url)) return;
    const p = principalOf(req);
    req.log.info(
      {
        ip: req.ip,
        method: req.method,
        url: redactUrl(req.url),
        statusCode: reply.statusCode,
        ...(p ? { agent: p.sub, role: p.role } : {}),
      },
      'agent request',
    );
  });
}
