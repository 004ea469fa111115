/**
 * The signed result of a drop-in capture. Twilio fetches the return URL itself, so no header
 * can carry a signature: it travels as the query parameter `TonewallSignature`, in the
 * processors' scheme (`t=<unix seconds>,v1=<hex HMAC-SHA256>`, processors/sign.ts), keyed with
 * CAPTURE_RESULT_SECRET, over `<t>.<canonical parameters>`. A result POSTed server to server
 * (the caller hung up: there is no call to redirect) carries the same value in the
 * `X-Tonewall-Signature` header, over the form body's parameters.
 *
 * Canonical parameters: every parameter but the signature, sorted by name (then value, for a
 * repeated name), each `encodeURIComponent(name)=encodeURIComponent(value)`, joined with `&`.
 *
 * How the app verifies it, on the request Twilio makes to the return URL:
 *
 *   const q = new URL(req.url, 'https://x').searchParams;
 *   const signature = q.get('TonewallSignature');
 *   q.delete('TonewallSignature');
 *   verifyCaptureResult(q, signature, process.env.CAPTURE_RESULT_SECRET)
 *
 * and checks that `params.CallSid` is the CallSid of the request Twilio signed. The query's
 * parameters are all signed, those the app put in its return URL included (Studio's
 * `FlowEvent=return`). Refuse a `t` older than your tolerance (300 s by default).
 */
import { signatureHeader, verifySignature } from '../processors/sign';

export const RESULT_SIGNATURE_PARAM = 'TonewallSignature';
export const RESULT_SIGNATURE_HEADER = 'X-Tonewall-Signature';
export const DEFAULT_RESULT_TOLERANCE_SECONDS = 300;

/** a result's own names: an app's return URL may not bring its own values for these */
const RESULT_NAME = /^(Result|CallSid|TonewallSignature)$|_(masked|valid|last4|brand|token|reason)$|^processor_/;

export function canonicalParams(params: Record<string, string>): string {
  return Object.entries(params)
    .filter(([k]) => k !== RESULT_SIGNATURE_PARAM)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

/** the processors' signature (processors/sign.ts) over the canonical parameters */
export function signResult(params: Record<string, string>, secret: string, t?: number): string {
  return signatureHeader(canonicalParams(params), secret, t);
}

/**
 * Checks a result. Pass the request's parameters as `URLSearchParams` (the query, or a form
 * body) where you can: a name given twice is then refused, so a value put in front of a signed
 * one (`Result=success&…`), which some frameworks read first, cannot ride on its signature.
 */
export function verifyCaptureResult(
  params: Record<string, string> | URLSearchParams,
  signature: string | undefined | null,
  secret: string,
  opts: { toleranceSeconds?: number; now?: number } = {},
): boolean {
  let record: Record<string, string>;
  if (params instanceof URLSearchParams) {
    record = {};
    for (const [k, v] of params) {
      if (Object.prototype.hasOwnProperty.call(record, k)) return false;
      record[k] = v;
    }
  } else {
    record = params;
  }
  return verifySignature(signature, canonicalParams(record), secret, opts.toleranceSeconds ?? DEFAULT_RESULT_TOLERANCE_SECONDS, opts.now);
}

/**
 * What a result carries: the return URL's own query parameters (each once; none that a result
 * sets or could set), then the result's. Signed whole, and sent whole, so the app reads exactly
 * what was signed.
 */
export function returnParams(returnUrl: string, result: Record<string, string>): Record<string, string> {
  const all: Record<string, string> = {};
  for (const [k, v] of new URL(returnUrl).searchParams) if (!RESULT_NAME.test(k)) all[k] = v;
  return Object.assign(all, result);
}

/** the return URL with the result's parameters (returnParams) as its query, and the signature over them */
export function signedReturnUrl(returnUrl: string, result: Record<string, string>, secret: string, t?: number): string {
  const u = new URL(returnUrl);
  const all = returnParams(returnUrl, result);
  u.search = new URLSearchParams(all).toString();
  u.searchParams.set(RESULT_SIGNATURE_PARAM, signResult(all, secret, t));
  return u.toString();
}
