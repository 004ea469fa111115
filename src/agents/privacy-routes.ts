/**
 * `GET` and `DELETE /v1/subjects/:phone` (CONTRACT §7), admin only. `:phone` is an E.164 number,
 * URL-encoded (`%2B15551234567`), or (an extension) a `tel:` URI, a SIP URI or Twilio Client
 * identity (`sip%3Aalice%40example.com`, `client%3Aalice`), or any other caller ID as Twilio sent
 * it, read by the service (privacy/subject.ts subjectRequest). Checks run token (401), role (403),
 * then the subject (400 for a malformed SIP URI or Client identity, or no caller ID at all; 422 for
 * one that names no one, a withheld caller ID), so nothing about the input is
 * judged for a caller who may not use the route.
 */
import type { FastifyPluginAsync } from 'fastify';
import { type TokenAuth, requireRole } from '../auth/tokens';
import { Errors, refuseMalformedBody } from '../errors';
import { type PrivacyService, SUBJECT_FORMS } from '../privacy/service';
import { noStore } from '../security-headers';

/** the subject as sent: the service reads it (400, 422), after the role is checked */
function phoneParam(params: unknown): string {
  const phone = (params as { phone?: unknown } | undefined)?.phone;
  if (typeof phone !== 'string') throw Errors.badRequest({ detail: SUBJECT_FORMS });
  return phone;
}

export function privacyRoutes(deps: { auth: TokenAuth; privacy: PrivacyService }): FastifyPluginAsync {
  return async (app) => {
    // a report or receipt about one caller: no cache keeps it (security-headers.ts)
    noStore(app);
    app.get('/v1/subjects/:phone', async (request) => {
      const admin = await deps.auth.fromRequest(request);
      requireRole(admin, 'admin');
      refuseMalformedBody(request.body);
      return deps.privacy.access(phoneParam(request.params), admin);
    });
    app.delete('/v1/subjects/:phone', async (request) => {
      const admin = await deps.auth.fromRequest(request);
      requireRole(admin, 'admin');
      // a body that did not parse (ops/json-body.ts): 400 after the 401 and 403, and nothing erased
      refuseMalformedBody(request.body);
      return deps.privacy.erase(phoneParam(request.params), admin);
    });
  };
}
