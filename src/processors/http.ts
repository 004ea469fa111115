/**
 * The one way a request leaves for a processor: a signed JSON POST with an Idempotency-Key, and
 * the retry schedule deliveries and erasures share. Outcomes carry the HTTP status and the
 * parsed answer, never the request body; failures are reduced to a fixed reason so no error
 * text (which could echo a URL or a body) travels further.
 */
import { signatureHeader, SIGNATURE_HEADER } from './sign';

export interface Backoff {
  /** first pause after a failed try (CONTRACT §6: about 0.5 s) */
  baseMs: number;
  /** no pause grows beyond this */
  maxMs: number;
  /** tries in all, the first included (CONTRACT §6: at least 5) */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: Readonly<Backoff> = Object.freeze({ baseMs: 500, maxMs: 30_000, maxAttempts: 8 });
export const MIN_ATTEMPTS = 5;
/** ±20% so that instances retrying after a shared outage do not arrive in lock step */
const JITTER = 0.2;
/** a processor that has not answered in this long is treated as a failed try */
export const REQUEST_TIMEOUT_MS = 10_000;
/** answers larger than this are not read: the agent is shown a summary, not a document */
const MAX_ANSWER_BYTES = 64 * 1024;

export function checkBackoff(b: Backoff): Backoff {
  if (!(b.baseMs > 0) || !(b.maxMs >= b.baseMs)) throw new Error('processor backoff: need 0 < baseMs <= maxMs');
  if (!Number.isInteger(b.maxAttempts) || b.maxAttempts < MIN_ATTEMPTS) {
    throw new Error(`processor backoff: maxAttempts must be a whole number >= ${MIN_ATTEMPTS}`);
  }
  return Object.freeze({ ...b });
}

/** pause before try `attempt + 1`, after `attempt` (>= 1) failed tries: base × 2^(attempt-1), capped, ±20% */
export function backoffDelay(attempt: number, b: Backoff, random: () => number = Math.random): number {
  const nominal = Math.min(b.maxMs, b.baseMs * 2 ** (attempt - 1));
  return Math.round(nominal * (1 - JITTER + 2 * JITTER * random()));
}

export type PostOutcome =
  | { ok: true; status: number; body?: unknown }
  | { ok: false; status?: number; body?: unknown; reason: 'http' | 'network' | 'timeout' };

export async function postSigned(
  fetchImpl: typeof fetch,
  url: string,
  body: string,
  secret: string,
  idempotencyKey: string,
): Promise<PostOutcome> {
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signatureHeader(body, secret),
        'Idempotency-Key': idempotencyKey,
      },
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (e) {
    const name = (e as Error)?.name;
    return { ok: false, reason: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network' };
  }
  const answer = await readAnswer(res);
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, body: answer };
  return { ok: false, status: res.status, body: answer, reason: 'http' };
}

async function readAnswer(res: Response): Promise<unknown> {
  try {
    const text = await res.text();
    if (text.length === 0 || text.length > MAX_ANSWER_BYTES) return undefined;
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
