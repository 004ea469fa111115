/**
 * `GET` and `DELETE /v1/subjects/:phone` (CONTRACT §7), admin only. `:phone` is an E.164 number,
 * URL-encoded (`%2B15551234567`). Checks run token (401), role (403), then the number (400; 422
 * for Twilio's placeholder for a withheld caller ID, in the service), so nothing about the input
 * is judged for a caller who may not use the route.
 */
import type { FastifyPluginAsync } from 'fastify';
import { type TokenAuth, requireRole } from '../auth/tokens';
import { Errors } from '../errors';
import type { PrivacyService } from '../privacy/service';
import { isE164 } from '../privacy/subject';

function phoneParam(params: unknown): string {
  const phone = (params as { phone?: unknown } | undefined)?.phone;
  if (!isE164(phone)) throw Errors.badRequest({ detail: 'the subject must be an E.164 number, URL-encoded (%2B…)' });
  return phone;
}

export function privacyRoutes(deps: { auth: TokenAuth; privacy: PrivacyService }): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/subjects/:phone', async (request) => {
      requireRole(deps.auth.fromRequest(request), 'admin');
      return deps.privacy.access(phoneParam(request.params));
    });
    app.delete('/v1/subjects/:phone', async (request) => {
      requireRole(deps.auth.fromRequest(request), 'admin');
      return deps.privacy.erase(phoneParam(request.params));
    });
  };
}
