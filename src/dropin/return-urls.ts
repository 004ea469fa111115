/**
 * Where a drop-in capture may send the call back (CAPTURE_RETURN_URLS). The `return` query
 * parameter is chosen by whoever writes the <Redirect>, so it is only followed when it falls
 * under an allowed entry: same scheme, host and port, and (for an entry with a path) under that
 * path at a segment boundary. URLs are compared parsed, never as strings, so
 * `https://pay.example.com.evil.net` does not pass for `https://pay.example.com`.
 */
import { returnUrlEntryProblem } from '../config';

/** a Twilio <Redirect> URL is bounded; a longer `return` is refused rather than truncated */
export const MAX_RETURN_URL_LENGTH = 2048;

export function allowedReturnUrl(candidate: unknown, allowList: readonly string[]): URL | undefined {
  if (typeof candidate !== 'string' || candidate.length === 0 || candidate.length > MAX_RETURN_URL_LENGTH) return undefined;
  let u: URL;
  try {
    u = new URL(candidate);
  } catch {
    return undefined;
  }
  // the same scheme rule as the list itself: https, or http to this machine; no credentials
  if (returnUrlEntryProblem(u.origin) !== undefined || u.username || u.password || u.hash) return undefined;
  // an encoded separator or dot (%2F, %5C, %2E), or one encoded twice (%252E), would pass the
  // prefix check here and be decoded into a path outside it by a server or proxy that decodes
  // before routing (twice, for the second)
  if (/%(25)*(2f|5c|2e)/i.test(u.pathname)) return undefined;
  // the URL parser resolves `..` segments, but not `..;x`: servlet containers (Tomcat, Jetty) drop
  // a segment's `;parameters` and then resolve it, so `/return/..;/admin` reaches `/admin`
  if (u.pathname.split('/').some((segment) => /^\.{1,2};/.test(segment))) return undefined;
  for (const entry of allowList) {
    const a = new URL(entry);
    if (a.origin !== u.origin) continue;
    const prefix = a.pathname === '/' ? '/' : a.pathname.replace(/\/+$/, '');
    if (prefix === '/' || u.pathname === prefix || u.pathname.startsWith(prefix + '/')) return u;
  }
  return undefined;
}
