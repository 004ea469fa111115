/**
 * `POST /v1/session/signout`: the bearer token's session ends before its exp (PCI DSS 8.2.8).
 * Signing out in the panel only dropped the token there, and a copy of it stayed good until its
 * exp; now the store files it as revoked (auth/revocations.ts), so every instance refuses it (401
 * on the API, 4401 on the socket), and every instance is told to close the sockets it opened.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Principal, TokenAuth } from '../auth/tokens';
import type { SessionBus } from '../bus';
import { noStore } from '../security-headers';
import { schemas } from './schemas';

export interface SessionRouteDeps {
  auth: TokenAuth;
  sessions: SessionBus;
  /** how the log names the user (AuditTrail.actor): never the token's `sub` */
  actor(p: Principal): string;
}

export function sessionRoutes(d: SessionRouteDeps): FastifyPluginAsync {
  return async (app) => {
    noStore(app);
    app.post('/v1/session/signout', { schema: schemas.signOut, attachValidation: true }, async (req, reply) => {
      const { principal, digest } = await d.auth.signOut(req);
      req.log.info({ actor: d.actor(principal), role: principal.role }, 'agent signed out');
      // revoked in the store before the sockets are told: one let in after this is refused by the store
      await d.sessions.publish({ type: 'session.revoked', token: digest });
      return reply.code(204).send();
    });
  };
}
