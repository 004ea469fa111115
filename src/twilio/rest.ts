/**
 * The service's Twilio REST client: the `twilio` package's own client, with its request client
 * re-pointed at TWILIO_API_BASE_URL (the tests' and demo's emulator, or api.twilio.com) and a
 * bounded timeout, so that a slow Twilio can never hold a webhook open.
 *
 * A request Twilio answers with 429 (its account-wide limit on concurrent REST requests, reached
 * when many calls pause at once) "is never processed and is always safe to retry" (Twilio, error
 * 20429): the package's own backoff tries it again (`autoRetry`), so a busy moment does not refuse
 * a caller's card for a pause Twilio never looked at. Not for resumes (`retryTooManyRequests:
 * false`): a retried request outlives REST_TIMEOUT_MS, the bound within which an unanswered resume
 * is over and the next pause may go (twilio/stretch-recordings.ts lateUntil); the recording
 * controller tries a refused resume again itself, within its own bound (recording/controller.ts
 * RESUME_RETRIED).
 */
import twilio from 'twilio';
import RequestClient from 'twilio/lib/base/RequestClient';

const TWILIO_API_ORIGIN = 'https://api.twilio.com';

class RebasedRequestClient extends RequestClient {
  constructor(
    private readonly baseUrl: string,
    timeoutMs: number,
    retryTooManyRequests: boolean,
  ) {
    super({ timeout: timeoutMs, keepAlive: true, ...(retryTooManyRequests ? TOO_MANY_REQUESTS_RETRY : {}) });
  }

  override request<T>(opts: RequestClient.RequestOptions<T>) {
    if (opts.uri.startsWith(TWILIO_API_ORIGIN)) opts = { ...opts, uri: this.baseUrl + opts.uri.slice(TWILIO_API_ORIGIN.length) };
    return super.request<T>(opts);
  }
}

export type TwilioClient = ReturnType<typeof twilio>;

export const REST_TIMEOUT_MS = 5_000;

/**
 * 429s tried again up to three times, each after a full-jitter wait of at most 200, 400 and
 * 500 ms: within a pause's 3 s bound (recording/controller.ts PAUSE_ACK_TIMEOUT_MS) when Twilio
 * answers promptly
 */
const TOO_MANY_REQUESTS_RETRY = { autoRetry: true, maxRetries: 3, maxRetryDelay: 500 } as const;

export function createTwilioClient(opts: {
  accountSid: string;
  authToken: string;
  apiBaseUrl: string;
  timeoutMs?: number;
  /** try a 429 again (default); false for a client whose unanswered requests must be over within timeoutMs */
  retryTooManyRequests?: boolean;
}): TwilioClient {
  return twilio(opts.accountSid, opts.authToken, {
    httpClient: new RebasedRequestClient(opts.apiBaseUrl.replace(/\/+$/, ''), opts.timeoutMs ?? REST_TIMEOUT_MS, opts.retryTooManyRequests ?? true),
  });
}
