/**
 * The pino logger. Redaction is fixed here, when the logger is built: every path that can carry
 * a caller's value or number is censored, whatever a call site passes. Call sites still log
 * fixed messages with data in fields, and never pass captured values at all; redaction is the
 * second line of defence, and it holds at any depth (pino's own `redact` paths reach one level
 * down, `*.From`, and are not used): every logged object, child binding and serialized error is
 * walked whole (`scrubbed`), a field named for a caller's value or number censored wherever it
 * sits and a run of digits long enough to be a phone or card number masked in any text, the
 * message too.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

const CENSOR = '[redacted]';

/**
 * Fields censored wherever they sit in a logged object: Twilio's parameters that carry a caller's
 * keys, words or number (its webhooks' and its REST API's spelling), a captured value, and the
 * secrets of a request.
 */
const CENSORED_FIELDS = new Set([
  'Digits',
  'digits',
  'From',
  'To',
  'Caller',
  'Called',
  'ForwardedFrom',
  'CallerName',
  'SpeechResult',
  'UnstableSpeechResult',
  'value',
  'phone',
  'authorization',
  'cookie',
  'x-twilio-signature',
]);

/** deeper than any object the service logs: what lies past it is not written at all */
const SCRUB_MAX_DEPTH = 8;

/**
 * A copy of `value` fit for the log: CENSORED_FIELDS censored and every text through redactText,
 * at any depth. An error anywhere in it is written as the `err` serializer writes one (its type,
 * message, stack and own fields), scrubbed the same way; a cycle or an object nested past
 * SCRUB_MAX_DEPTH is not followed.
 */
export function scrubbed(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value instanceof Error) value = pino.stdSerializers.err(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= SCRUB_MAX_DEPTH) return '[nested]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => scrubbed(v, depth + 1, seen));
    // a Buffer or a Date as JSON writes it (its toJSON), scrubbed in turn; any other object, as
    // JSON does too, by its own enumerable fields
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return scrubbed(toJSON.call(value), depth + 1, seen);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = CENSORED_FIELDS.has(k) ? CENSOR : scrubbed(v, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

const SERIALIZERS = {
  req: (req: { method?: string; url?: string; id?: string }) => ({ method: req.method, url: redactUrl(req.url), id: req.id }),
  // Fastify's `request completed` line: the status, not the reply object and its socket
  res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
  err: safeErr,
};

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const logger = pino(
    {
      level,
      base: { service: 'tonewall' },
      formatters: {
        log: (object) => {
          const out: Record<string, unknown> = {};
          // a field with a serializer (req, err) is left to it: those make their own safe copy
          for (const [k, v] of Object.entries(object)) out[k] = k in SERIALIZERS ? v : CENSORED_FIELDS.has(k) ? CENSOR : scrubbed(v, 1);
          return out;
        },
      },
      hooks: {
        // the message and what it interpolates (`%s`, `%o`), beside the logged object (formatters.log's)
        logMethod(args: unknown[], method) {
          const m = args.findIndex((a) => typeof a === 'string');
          return method.apply(this, (m < 0 ? args : args.map((a, i) => (i < m ? a : scrubbed(a)))) as Parameters<typeof method>);
        },
      },
      serializers: SERIALIZERS,
    },
    destination,
  );
  // a child's bindings are written once, when it is made; pino's bindings formatter is the
  // root's only (its children reset it), so every child, at any generation, is made here
  // unbound: called with each child as `this`, so a grandchild keeps its parent's bindings
  const child = logger.child;
  const scrubbedChild = function (this: Logger, bindings: Record<string, unknown>, options?: object) {
    return child.call(this, scrubbed(bindings) as Record<string, unknown>, options);
  };
  Object.defineProperty(logger, 'child', { value: scrubbedChild, writable: true, configurable: true });
  return logger;
}

/**
 * A run of 7 or more digits standing alone in a path (with its `+`, plain or %2B): a phone or card
 * number in a URL that matched no route (`/v1/subject/+1555…`). Twilio's SIDs are letters and hex
 * together, so they keep their digits.
 */
const NUMBER_IN_PATH = /(?<![A-Za-z0-9])(?:\+|%2B)?[0-9]{7,}(?![A-Za-z0-9])/gi;

/**
 * A number as people write it, in groups: an international phone number (`+1 555 123 0000`,
 * `+44 (20) 7946-0000`), a national one in threes and four (`555-765-4321`, `(555) 765-4321`,
 * `555.765.4321`) or a card number in fours (`4111 1111 1111 1111`, Amex's 4-6-5). A date
 * (`2026-12-06`) and an address (`10.0.0.12`) are neither. An international one is masked glued
 * to a word too (`from+1 555 123 0000`).
 */
const GROUPED_NUMBER =
  /\+[0-9][0-9 ()-]{5,}[0-9]|(?<![A-Za-z0-9])(?:[0-9]{4}(?:[ -][0-9]{3,6}){2,4}|(?:\([0-9]{3}\) ?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4})(?![A-Za-z0-9])/g;

/**
 * A phone number as Twilio writes one (`+` or `%2B` and 7 or more digits) wherever it stands, glued
 * to a word too (`from+15551230000`): a `+` before digits starts no identifier the service logs.
 */
const E164_ANYWHERE = /(?:\+|%2B)[0-9]{7,}/gi;

/**
 * A run of 13 or more digits wherever it stands (`card4111…`, `x4111…y`), unless it lies
 * in a Twilio SID (two capital letters and 32 hex digits, standing alone: `CA…`, `RE…`, the `PK…`
 * of a payment session), whose hex may spell anything. A run standing alone is NUMBER_IN_PATH's;
 * one glued to letters is masked when it holds a card number (holdsCardNumber): a hash's digits or
 * a compact timestamp, which hold none, keep theirs.
 */
const SID_OR_DIGIT_RUN = /(?<![A-Za-z0-9])[A-Z]{2}[0-9a-fA-F]{32}(?![A-Za-z0-9])|[0-9]{13,}/g;

/** a card number's length, 13 to 19 digits (ISO/IEC 7812-1) */
const CARD_MIN_DIGITS = 13;
const CARD_MAX_DIGITS = 19;
/** a run longer than this is masked unread: it holds a Luhn-valid stretch all but surely, and reading one costs 133 sums a digit */
const RUN_MASKED_UNREAD_DIGITS = 64;

/** whether `digits[start, start + length)` passes the Luhn check (ISO/IEC 7812-1 Annex B) */
function luhnValid(digits: string, start: number, length: number): boolean {
  let sum = 0;
  for (let i = 0; i < length; i++) {
    let d = digits.charCodeAt(start + length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

/** whether a run of digits holds, anywhere in it, 13 to 19 digits that pass the Luhn check: a card number glued to others */
function holdsCardNumber(run: string): boolean {
  if (run.length > RUN_MASKED_UNREAD_DIGITS) return true;
  for (let length = CARD_MIN_DIGITS; length <= Math.min(CARD_MAX_DIGITS, run.length); length++) {
    for (let start = 0; start + length <= run.length; start++) if (luhnValid(run, start, length)) return true;
  }
  return false;
}

/** SID_OR_DIGIT_RUN's replacer: a SID as it is, a run of digits masked when it holds a card number */
const maskCardRun = (m: string): string => (m.charCodeAt(0) <= 57 && holdsCardNumber(m) ? '[number]' : m);

/** a query string quoted in a text (`…/twilio/voice?From=%2B1555…`): what follows `?` up to a space or quote, when it holds an `=` */
const QUERY_IN_TEXT = /\?(?=[^\s"'`]*=)[^\s"'`]*/g;

/**
 * A caller who is not a number, in any text: the user part of a SIP URI (`sip:alice@example.com`,
 * a password after it too) and a Twilio Client identity (`client:alice`). The host stays (it names
 * a domain or trunk, as agents are shown it); a form already masked (`sip:****@…`, `client:****`)
 * is left as it is.
 */
const SIP_USER_IN_TEXT = /\b(sips?:)(?!\*+@)[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+(?::[A-Za-z0-9\-_.!~*'()&=+$,%]*)?@/gi;
/** a name's characters, but a full stop that ends a sentence */
const CLIENT_IN_TEXT = /\b(client:)[A-Za-z0-9\-_.~@+%=]*[A-Za-z0-9\-_~@+%=]/gi;

/** a text that may quote a request's URL, a number or a caller's identity (an error's message or stack, any logged text), without its query strings, numbers and identities */
export function redactText(text: string): string {
  return text
    .replace(QUERY_IN_TEXT, '?[query]')
    .replace(SIP_USER_IN_TEXT, '$1[identity]@')
    .replace(CLIENT_IN_TEXT, '$1[identity]')
    .replace(GROUPED_NUMBER, '[number]')
    .replace(NUMBER_IN_PATH, '[number]')
    .replace(E164_ANYWHERE, '[number]')
    .replace(SID_OR_DIGIT_RUN, maskCardRun);
}

/**
 * An error as pino's standard serializer gives it, its message and stack through redactText: the
 * errors logged by the service's own code go through errFields, but Fastify logs some of its own
 * with the request's URL in the message as sent (a reply sent twice: `FST_ERR_REP_ALREADY_SENT`),
 * query and all.
 */
function safeErr(err: Error): ReturnType<typeof pino.stdSerializers.err> {
  // its message and stack, and what else it carries (a cause, a REST client's request and
  // response) at any depth; a copy, so an object logged as `err` is never changed
  return scrubbed(err) as ReturnType<typeof pino.stdSerializers.err>;
}

/**
 * A percent-escape of a printable ASCII character other than `/` (%20 to %7E, not %2F): the router
 * reads `/v1/%73ubjects/%2B%31…` as `/v1/subjects/+1…`, and so must redaction. `%2F` stays: the
 * router does not split a path on it, and cut there a subject's number would pass NUMBER_IN_PATH
 * in pieces. Only well-formed escapes match, so a malformed one is left as sent.
 */
const ESCAPED_ASCII = /%(2[0-9A-E]|[3-6][0-9A-F]|7[0-9A-E])/gi;

/** the scheme and authority of an absolute-form request target (`http://host/v1/calls`), which the router routes by its path */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i;

/**
 * Media stream URLs carry single-use tokens and subject routes carry phone numbers: neither belongs
 * in a log. The path is read as the router reads it (escaped letters and digits decoded, an
 * absolute-form target's origin set aside), in any case and with repeated slashes: a request for no
 * route is logged with its URL as sent. The query is replaced whole, never decoded.
 */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  const q = url.indexOf('?');
  const target = q < 0 ? url : url.slice(0, q);
  const origin = ORIGIN.exec(target)?.[0] ?? '';
  const path = target
    .slice(origin.length)
    .replace(ESCAPED_ASCII, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/^(\/+media\/+)[^/]+/i, '$1[token]')
    .replace(/^(\/+v1\/+subjects\/+)[^/]+/i, '$1[subject]');
  const masked = (origin + path)
    .replace(GROUPED_NUMBER, '[number]')
    .replace(NUMBER_IN_PATH, '[number]')
    .replace(E164_ANYWHERE, '[number]')
    .replace(SID_OR_DIGIT_RUN, maskCardRun);
  return masked + (q < 0 ? '' : '?[query]');
}

/**
 * An error as a log field: its code and the first 200 characters of its message, never the
 * error object (whose other properties may hold a request or a response body).
 */
export function errFields(err: unknown): { code?: string; message: string } {
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  return { ...(typeof e?.code === 'string' ? { code: e.code } : {}), message: String(e?.message ?? err).slice(0, 200) };
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
const noop = (): void => undefined;

/**
 * `parent.child(bindings)`, made the first time it is used for anything but a call at a level
 * `parent` leaves out: a webhook hands its call's logger down its whole path, and most log
 * nothing at the configured level, while a child costs the scrub of its bindings and pino's
 * serialization of them (about a tenth of a gather's own work, bench/webhook-instructions.ts).
 * A line written through it is the child's, bindings and all, as before.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const made = (): Logger => (child ??= parent.child(bindings));
  return new Proxy({} as Logger, {
    get(_target, prop) {
      if (child === undefined && typeof prop === 'string' && LEVELS.has(prop) && !parent.isLevelEnabled(prop)) return noop;
      const c = made();
      const v: unknown = Reflect.get(c, prop, c);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(c) : v;
    },
    set: (_target, prop, value) => Reflect.set(made(), prop, value),
    has: (_target, prop) => Reflect.has(made(), prop),
  });
}

export type { Logger };
