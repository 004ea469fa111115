/**
 * The service's Twilio REST client: the `twilio` package's own client, with its request client
 * re-pointed at TWILIO_API_BASE_URL (the tests' and demo's emulator, or api.twilio.com) and a
 * bounded timeout, so that a slow Twilio can never hold a webhook open.
 */
import twilio from 'twilio';
import RequestClient from 'twilio/lib/base/RequestClient';

const TWILIO_API_ORIGIN = 'https://api.twilio.com';

class RebasedRequestClient extends RequestClient {
  constructor(
    private readonly baseUrl: string,
    timeoutMs: number,
  ) {
    super({ timeout: timeoutMs, keepAlive: true });
  }

  override request<T>(opts: RequestClient.RequestOptions<T>) {
    if (opts.uri.startsWith(TWILIO_API_ORIGIN)) opts = { ...opts, uri: this.baseUrl + opts.uri.slice(TWILIO_API_ORIGIN.length) };
    return super.request<T>(opts);
  }
}

export type TwilioClient = ReturnType<typeof twilio>;

export const REST_TIMEOUT_MS = 5_000;

export function createTwilioClient(opts: { accountSid: string; authToken: string; apiBaseUrl: string; timeoutMs?: number }): TwilioClient {
  return twilio(opts.accountSid, opts.authToken, {
    httpClient: new RebasedRequestClient(opts.apiBaseUrl.replace(/\/+$/, ''), opts.timeoutMs ?? REST_TIMEOUT_MS),
  });
}
