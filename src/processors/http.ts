/**
 * The one way a request leaves for a processor: a JSON POST, signed with an Idempotency-Key
 * (tonewall) or with HTTP Basic auth (Twilio's Generic Pay Connector), and
 * the retry schedule deliveries and erasures share. Outcomes carry the HTTP status and the
 * parsed answer, never the request body; failures are reduced to a fixed reason so no error
 * text (which could echo a URL or a body) travels further.
 */
import { signatureHeader, SIGNATURE_HEADER } from './sign';
import { ProcessorErrors } from '../errors';

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
/**
 * Answers larger than this are not read: the agent is shown a summary (summary.ts), not a
 * document. The cap holds while the answer streams in, so a processor that sends without end
 * costs this much memory and no more.
 */
export const MAX_ANSWER_BYTES = 16 * 1024;

export function checkBackoff(b: Backoff): Backoff {
  if (!(b.baseMs > 0) || !(b.maxMs >= b.baseMs)) throw ProcessorErrors.backoffInvalid('need 0 < baseMs <= maxMs');
  if (!Number.isInteger(b.maxAttempts) || b.maxAttempts < MIN_ATTEMPTS) {
    throw ProcessorErrors.backoffInvalid(`maxAttempts must be a whole number >= ${MIN_ATTEMPTS}`);
  }
  return Object.freeze({ ...b });
}

/** pause before try `attempt + 1`, after `attempt` (>= 1) failed tries: base × 2^(attempt-1), capped, ±20% */
export function backoffDelay(attempt: number, b: Backoff, random: () => number = Math.random): number {
  const nominal = Math.min(b.maxMs, b.baseMs * 2 ** (attempt - 1));
  return Math.round(nominal * (1 - JITTER + 2 * JITTER * random()));
}

export type PostOutcome = { ok: true; status: number; body?: unknown } | { ok: false; status?: number; body?: unknown; reason: 'http' | 'network' | 'timeout' };

export async function postSigned(fetchImpl: typeof fetch, url: string, body: string, secret: string, idempotencyKey: string): Promise<PostOutcome> {
  return postJson(fetchImpl, url, body, { [SIGNATURE_HEADER]: signatureHeader(body, secret), 'Idempotency-Key': idempotencyKey });
}

/** the Generic Pay Connector's way in: HTTP Basic with the credentials set on the connector (generic-pay.ts) */
export function basicAuthorization(username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/** A JSON POST with `headers` besides the content type; never follows a redirect, gives up after REQUEST_TIMEOUT_MS. */
export async function postJson(fetchImpl: typeof fetch, url: string, body: string, headers: Record<string, string>): Promise<PostOutcome> {
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
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

/** the answer's JSON, or undefined when it is empty, too large or not JSON; never more than MAX_ANSWER_BYTES read */
async function readAnswer(res: Response): Promise<unknown> {
  const body = res.body;
  if (!body) return undefined;
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > MAX_ANSWER_BYTES) {
    // not read at all: a body that cannot be cancelled is already gone, and the answer is refused either way
    await body.cancel().catch(() => undefined);
    return undefined;
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_ANSWER_BYTES) {
        // stop reading and close the connection: the rest is never fetched
        // as above: the answer is refused whether or not the cancel lands
        await reader.cancel().catch(() => undefined);
        return undefined;
      }
      chunks.push(value);
    }
  } catch {
    return undefined;
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
