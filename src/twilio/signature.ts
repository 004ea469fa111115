/**
 * Twilio request signatures, checked with the `twilio` package's own `validateRequest` against
 * PUBLIC_URL + path + query: the Host header is never trusted. Missing → 400, wrong → 403, both
 * before anything else runs (no state change, no REST call, no TwiML).
 */
import twilio from 'twilio';

export type SignatureVerdict = { ok: true } | { ok: false; status: 400 | 403; reason: 'missing' | 'invalid' };

export function checkSignature(authToken: string, header: string | string[] | undefined, url: string, params: Record<string, string>): SignatureVerdict {
  if (typeof header !== 'string' || header.length === 0) return { ok: false, status: 400, reason: 'missing' };
  return twilio.validateRequest(authToken, header, url, params) ? { ok: true } : { ok: false, status: 403, reason: 'invalid' };
}

/** the URL Twilio signed: our public origin and the request's path and query as received */
export function signedUrl(publicOrigin: string, rawUrl: string): string {
  return publicOrigin + rawUrl;
}
