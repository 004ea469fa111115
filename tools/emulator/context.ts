import type pino from 'pino';
import type { Faults } from './faults';
import type { Timeline, WebhookPurpose } from './timeline';
import type { WebhookSender } from './webhook';

/** What every part of the emulator shares: credentials, clock, timeline, faults. */
export interface EmulatorContext {
  readonly accountSid: string;
  readonly authToken: string;
  readonly timeline: Timeline;
  readonly webhooks: WebhookSender;
  readonly logger: pino.Logger;
  readonly faults: Faults;
  /** aborted when the emulator closes: ends every wait */
  readonly closing: AbortSignal;
  /** the account's PCI Mode: a <Gather> whose action is not https ends the call (error 13337) */
  readonly pciMode: boolean;
  /** media streams send Twilio's 20 ms cadence, silence when the party is quiet (media-client.ts `cadence`) */
  readonly mediaCadence: boolean;
  /** where a URL the TwiML names is requested (origins.ts) */
  readonly reach: (url: string) => string;
  /** the REST origin, known once the server listens */
  baseUrl(): string;
}

export interface DeliveryResult {
  /** 0 when no HTTP answer came */
  status: number;
  body: string;
}

/** Sends one signed webhook for a call and puts it in the timeline; never throws. */
export async function deliverWebhook(
  ctx: EmulatorContext,
  callSid: string,
  purpose: WebhookPurpose,
  url: string,
  method: string,
  params: Record<string, string>,
  signal?: AbortSignal,
): Promise<DeliveryResult> {
  const verb = method.toUpperCase() === 'GET' ? 'GET' : 'POST';
  // A request begun is finished, whatever happens to the call meanwhile (a hangup, a redirect):
  // Twilio requests a <Dial>'s action even after the caller hung up and ignores what it answers,
  // and nothing in its docs says it cuts a webhook off mid-way. So `signal` ends the wait for
  // the answer, never the request, which is left to complete.
  const sent = ctx.webhooks.send(url, params, { method: verb }).then(
    (res) => {
      ctx.timeline.add({ type: 'webhook', callSid, purpose, method: verb, url, status: res.status, bodyLength: res.body.length });
      return { status: res.status, body: res.body };
    },
    (err: unknown) => {
      const error = err instanceof Error ? err.message : String(err);
      ctx.timeline.add({ type: 'webhook', callSid, purpose, method: verb, url, status: 0, bodyLength: 0, error });
      ctx.logger.warn({ callSid, purpose, url, err: error }, 'webhook delivery failed');
      return { status: 0, body: '' };
    },
  );
  if (!signal) return sent;
  if (signal.aborted) return { status: 0, body: '' };
  return new Promise<DeliveryResult>((resolve) => {
    const onAbort = (): void => resolve({ status: 0, body: '' });
    signal.addEventListener('abort', onAbort, { once: true });
    void sent.then((r) => {
      signal.removeEventListener('abort', onAbort);
      resolve(r);
    });
  });
}

/** A sleep that ends early (resolving false) when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
