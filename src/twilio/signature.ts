/**
 * Twilio request signatures, checked with the `twilio` package's own `validateRequest` against
 * PUBLIC_URL + path + query: the Host header is never trusted. Missing → 400, wrong → 403, both
 * before anything else runs (no state change, no REST call, no TwiML).
 */
import { timingSafeEqual } from 'node:crypto';
import twilio from 'twilio';

export type SignatureVerdict = { ok: true } | { ok: false; status: 400 | 403; reason: 'missing' | 'invalid' };

export function checkSignature(authToken: string, header: string | string[] | undefined, url: string, params: Record<string, string>): SignatureVerdict {
  if (typeof header !== 'string' || header.length === 0) return { ok: false, status: 400, reason: 'missing' };
  // Twilio signs the URL as configured, which is ours exactly: checked first, one HMAC. Only a
  // mismatch takes validateRequest's variants (with and without the port, the legacy query
  // encoding), each another HMAC: a PUBLIC_URL with a port paid two on every webhook.
  if (sameSignature(header, twilio.getExpectedTwilioSignature(authToken, url, params))) return { ok: true };
  return twilio.validateRequest(authToken, header, url, params) ? { ok: true } : { ok: false, status: 403, reason: 'invalid' };
}

/** the URL Twilio signed: our public origin and the request's path and query as received */
export function signedUrl(publicOrigin: string, rawUrl: string): string {
  return publicOrigin + rawUrl;
}

function sameSignature(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
