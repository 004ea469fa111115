/**
 * METRICS_TOKEN's check, for /metrics on the public port (routes.ts) and on the metrics listener
 * (metrics-server.ts): one rule for both.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** the challenge a 401 of /metrics carries (RFC 6750 §3), so a scraper knows what is asked */
export const METRICS_CHALLENGE = 'Bearer realm="tonewall metrics"';

/**
 * `Authorization: Bearer <token>`, compared in constant time: both sides hashed first, so neither
 * the comparison nor a length check tells how much of a guess was right, or how long the token is.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) return false;
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(m[1]), digest(token));
}

/**
 * The challenge of the agent API's 401s (RFC 6750 §3): the scheme and realm alone when no
 * credentials came, `error="invalid_token"` when a token came and did not hold (malformed, forged,
 * expired). No description: why a token failed is not told to whoever sent it.
 */
export function bearerChallenge(tokenSent: boolean): string {
  return tokenSent ? 'Bearer realm="tonewall", error="invalid_token"' : 'Bearer realm="tonewall"';
}
