import twilio from 'twilio';
import { idempotencyToken } from './ids';
import type { Reach } from './origins';

/** Twilio gives up on a webhook after 15 s (its documented default timeout). */
export const WEBHOOK_TIMEOUT_MS = 15_000;

/**
 * Twilio retries a webhook whose connection could not be made, once by default: the connection
 * overrides' Retry count (`rc`) defaults to 1, its Retry policy (`rp`) to connection failures
 * (`ct`), all within the Total time (`tt`, 15 000 ms)
 * (https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides). A request that
 * reached the server is never sent again, whatever it answered. The retry carries the same
 * I-Twilio-Idempotency-Token, so a service can tell it from a new request.
 */
export const WEBHOOK_CONNECT_RETRIES = 1;

/** the errors of a connection that was never made (undici puts the socket's code on `cause`) */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function connectFailed(err: unknown): boolean {
  // duck-typed: fetch's errors may come from another realm (a test runner's), where instanceof fails
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' && CONNECT_FAILURES.has(cause.code);
}

export interface WebhookResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export interface SignedRequestOptions {
  /** override the signature; null omits the X-Twilio-Signature header */
  signature?: string | null;
  method?: 'POST' | 'GET';
  /** extra headers, e.g. a fixed I-Twilio-Idempotency-Token to imitate a Twilio retry */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Sends webhooks the way Twilio does: form-encoded, signed with the account's auth token. */
export class WebhookSender {
  constructor(
    private readonly authToken: string,
    private readonly timeoutMs = WEBHOOK_TIMEOUT_MS,
    /** where a URL is requested: itself, or the local origin behind its TLS-terminating proxy (origins.ts) */
    private readonly reach: Reach = (url) => url,
  ) {}

  /** X-Twilio-Signature for `url` (exactly as requested, query included) and the form params. */
  signature(url: string, params: Record<string, string>): string {
    return twilio.getExpectedTwilioSignature(this.authToken, url, params);
  }

  async send(url: string, params: Record<string, string>, opts: SignedRequestOptions = {}): Promise<WebhookResponse> {
    const method = opts.method ?? 'POST';
    // Twilio puts GET webhook params in the query string and signs the resulting URL alone.
    const target = method === 'GET' ? appendQuery(url, params) : url;
    const signed = method === 'GET' ? {} : params;
    const headers: Record<string, string> = {
      'User-Agent': 'TwilioProxy/1.1',
      Accept: '*/*',
      'I-Twilio-Idempotency-Token': idempotencyToken(),
      ...opts.headers,
    };
    if (method === 'POST') headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const signature = opts.signature === undefined ? this.signature(target, signed) : opts.signature;
    if (signature !== null) headers['X-Twilio-Signature'] = signature;

    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    // signed as the URL Twilio requests; sent where that URL's proxy would hand it
    const attempt = (): Promise<Response> =>
      fetch(this.reach(target), { method, headers, body: method === 'POST' ? new URLSearchParams(params).toString() : undefined, signal });
    let res: Response | undefined;
    for (let retries = 0; !res; retries++) {
      try {
        res = await attempt();
      } catch (err) {
        if (retries >= WEBHOOK_CONNECT_RETRIES || signal.aborted || !connectFailed(err)) throw err;
      }
    }
    const body = await res.text();
    const outHeaders: Record<string, string> = {};
    res.headers.forEach((value, key) => {
      outHeaders[key] = value;
    });
    return { status: res.status, body, headers: outHeaders };
  }
}

function appendQuery(url: string, params: Record<string, string>): string {
  const qs = new URLSearchParams(params).toString();
  if (!qs) return url;
  return url + (url.includes('?') ? '&' : '?') + qs;
}
