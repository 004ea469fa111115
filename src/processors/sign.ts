/**
 * `X-Tonewall-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the
 * processor's secret text as it is (CONTRACT §6). The scheme is Stripe's: the timestamp inside
 * the MAC lets a receiver refuse replays older than its tolerance.
 *
 * For processor implementers: read the raw body bytes (before any JSON parsing), split the
 * header on ',' into `k=v` pairs, recompute HMAC-SHA256(secret, `${t}.${rawBody}`) as lower-case
 * hex, compare it with every `v1` in constant time, and refuse a `t` further than your tolerance
 * (300 s is usual) from your clock. `verifySignature` below does exactly that.
 *
 * The signature covers the body only, and one secret signs both a processor's deliveries and its
 * erasures, so a valid body is valid at either endpoint for the tolerance. Each body therefore
 * names what it is for, inside the signature: `purpose` ("delivery" at `url`, "erasure" at
 * `eraseUrl`), and a delivery carries its `idempotencyKey` (the same text as the Idempotency-Key
 * header, which is not signed). A receiver refuses a `purpose` that is not its endpoint's and
 * deduplicates on the signed key, never the header: `verifyProcessorRequest` below does both
 * checks a body can hold (the deduplication is the receiver's own store).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Tonewall-Signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** what a signed body is for: a receiver accepts only its own endpoint's */
export type RequestPurpose = 'delivery' | 'erasure';

const nowSeconds = () => Math.floor(Date.now() / 1000);

function mac(secret: string, t: number | string, body: string): string {
  return createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex');
}

export function signatureHeader(body: string, secret: string, t: number = nowSeconds()): string {
  return `t=${t},v1=${mac(secret, t, body)}`;
}

export function verifySignature(
  header: string | undefined | null,
  body: string,
  secret: string,
  toleranceSeconds: number = DEFAULT_TOLERANCE_SECONDS,
  now: number = nowSeconds(),
): boolean {
  if (typeof header !== 'string' || header.length > 1024) return false;
  let t: string | undefined;
  const sigs: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't') t = v;
    else if (k === 'v1') sigs.push(v);
  }
  if (t === undefined || !/^[0-9]{1,12}$/.test(t) || sigs.length === 0) return false;
  if (Math.abs(now - Number(t)) > toleranceSeconds) return false;
  const expected = Buffer.from(mac(secret, t, body), 'hex');
  return sigs.some((s) => /^[0-9a-f]{64}$/.test(s) && timingSafeEqual(Buffer.from(s, 'hex'), expected));
}

/** a request a processor may act on: signed, fresh, and for the endpoint that received it */
export type VerifiedRequest = { purpose: RequestPurpose; idempotencyKey?: string } & Record<string, unknown>;

/**
 * The receiver's whole check of a tonewall request (CONTRACT §6): the signature as
 * `verifySignature`, then the signed body's `purpose` equal to `expected`, the endpoint's own, and
 * for a delivery a signed `idempotencyKey` to deduplicate on. The parsed body, or null to refuse.
 */
export function verifyProcessorRequest(
  header: string | undefined | null,
  rawBody: string,
  secret: string,
  expected: RequestPurpose,
  toleranceSeconds: number = DEFAULT_TOLERANCE_SECONDS,
  now: number = nowSeconds(),
): VerifiedRequest | null {
  if (!verifySignature(header, rawBody, secret, toleranceSeconds, now)) return null;
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  if (b.purpose !== expected) return null;
  if (expected === 'delivery' && (typeof b.idempotencyKey !== 'string' || b.idempotencyKey.length === 0)) return null;
  return b as VerifiedRequest;
}
