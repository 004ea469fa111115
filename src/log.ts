/**
 * The pino logger. Redaction is fixed here, when the logger is built: every path that can carry
 * a caller's value or number is censored, whatever a call site passes. Call sites still log
 * fixed messages with data in fields, and never pass captured values at all; redaction is the
 * second line of defence.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

export const REDACT_PATHS = [
  'Digits',
  '*.Digits',
  'From',
  '*.From',
  'Caller',
  '*.Caller',
  'To',
  '*.To',
  'Called',
  '*.Called',
  'digits',
  '*.digits',
  'value',
  '*.value',
  'phone',
  '*.phone',
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-twilio-signature"]',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tonewall' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        req: (req: { method?: string; url?: string; id?: string }) => ({ method: req.method, url: redactUrl(req.url), id: req.id }),
        err: safeErr,
      },
    },
    destination,
  );
}

/**
 * A run of 7 or more digits standing alone in a path (with its `+`, plain or %2B): a phone or card
 * number in a URL that matched no route (`/v1/subject/+1555…`). Twilio's SIDs are letters and hex
 * together, so they keep their digits.
 */
const NUMBER_IN_PATH = /(?<![A-Za-z0-9])(?:\+|%2B)?[0-9]{7,}(?![A-Za-z0-9])/gi;

/** a query string quoted in a text (`…/twilio/voice?From=%2B1555…`): what follows `?` up to a space or quote, when it holds an `=` */
const QUERY_IN_TEXT = /\?(?=[^\s"'`]*=)[^\s"'`]*/g;

/** a text that may quote a request's URL (an error's message or stack), without its query strings and numbers */
export function redactText(text: string): string {
  return text.replace(QUERY_IN_TEXT, '?[query]').replace(NUMBER_IN_PATH, '[number]');
}

/**
 * An error as pino's standard serializer gives it, its message and stack through redactText: the
 * errors logged by the service's own code go through errFields, but Fastify logs some of its own
 * with the request's URL in the message as sent (a reply sent twice: `FST_ERR_REP_ALREADY_SENT`),
 * query and all.
 */
function safeErr(err: Error): ReturnType<typeof pino.stdSerializers.err> {
  const s = pino.stdSerializers.err(err);
  if (typeof s.message === 'string') s.message = redactText(s.message);
  if (typeof s.stack === 'string') s.stack = redactText(s.stack);
  return s;
}

/**
 * Media stream URLs carry single-use tokens and subject routes carry phone numbers: neither belongs
 * in a log. Any case and repeated slashes too: a request for no route is logged with its URL as sent.
 */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  return url
    .replace(/\?.*$/s, '?[query]')
    .replace(/^(\/+media\/+)[^/?]+/i, '$1[token]')
    .replace(/^(\/+v1\/+subjects\/+)[^/?]+/i, '$1[subject]')
    .replace(NUMBER_IN_PATH, '[number]');
}

/**
 * An error as a log field: its code and the first 200 characters of its message, never the
 * error object (whose other properties may hold a request or a response body).
 */
export function errFields(err: unknown): { code?: string; message: string } {
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  return { ...(typeof e?.code === 'string' ? { code: e.code } : {}), message: String(e?.message ?? err).slice(0, 200) };
}

export type { Logger };
