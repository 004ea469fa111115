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
  try {
    const res = await ctx.webhooks.send(url, params, { method: verb, signal });
    ctx.timeline.add({ type: 'webhook', callSid, purpose, method: verb, url, status: res.status, bodyLength: res.body.length });
    return { status: res.status, body: res.body };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    ctx.timeline.add({ type: 'webhook', callSid, purpose, method: verb, url, status: 0, bodyLength: 0, error });
    ctx.logger.warn({ callSid, purpose, url, err: error }, 'webhook delivery failed');
    return { status: 0, body: '' };
  }
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
