/**
 * `X-Tonewall-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the
 * processor's secret text as it is (CONTRACT §6). The scheme is Stripe's: the timestamp inside
 * the MAC lets a receiver refuse replays older than its tolerance.
 *
 * For processor implementers: read the raw body bytes (before any JSON parsing), split the
 * header on ',' into `k=v` pairs, recompute HMAC-SHA256(secret, `${t}.${rawBody}`) as lower-case
 * hex, compare it with every `v1` in constant time, and refuse a `t` further than your tolerance
 * (300 s is usual) from your clock. `verifySignature` below does exactly that.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Tonewall-Signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

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
