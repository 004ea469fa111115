/**
 * What an agent is shown of a processor's answer (`processor.result`): an allow-listed summary,
 * never the answer itself. Free text is where a processor echoes what it was sent or what it
 * knows ("cvv 737 does not match", "4111 1111 1111 1111", "411111******1111", "(555) 123-4567"),
 * in forms no scrubber of the sent values recognises. So only four things pass, each only in a
 * shape that cannot carry a card number, a phone number or a sentence:
 *
 * - `approved`: a boolean;
 * - `status`: a word of letters, `_` and `-` (approved, declined, error...), lower-cased;
 * - `code`: an approval or decline code, 1 to 6 letters or digits (ISO 8583 field 38 is 6);
 * - `reference`: the processor's reference for the payment, up to 64 letters, digits and
 *   `_ . : -`, holding no run of 7 or more digits once separators are dropped (a phone or
 *   card number written with dashes).
 *
 * A candidate that holds a value the delivery sent (scrubAnswer would change it) is dropped too.
 * Anything else in the answer is dropped without a trace; an answer with nothing allowed gives
 * no summary.
 */
import type { CardBrand } from '../fields';
import { scrubAnswer } from './scrub';

export interface ProcessorSummary {
  approved?: boolean;
  status?: string;
  code?: string;
  reference?: string;
  /** twilio-generic-pay tokenize only: the gateway's token for the card (generic-pay.ts), as <Pay>'s PaymentToken */
  token?: string;
  /** twilio-generic-pay only: from the call's own masked card field, never from the answer */
  last4?: string;
  brand?: CardBrand;
}

/** where processors put each allowed item, first match wins */
const STATUS_KEYS = ['status', 'result', 'outcome', 'decision'] as const;
const CODE_KEYS = ['code', 'approvalCode', 'authCode', 'authorizationCode', 'declineCode', 'responseCode', 'reasonCode'] as const;
const REFERENCE_KEYS = ['reference', 'ref', 'transactionId', 'paymentId', 'id'] as const;

const STATUS = /^[A-Za-z][A-Za-z_-]{0,31}$/;
const CODE = /^[A-Za-z0-9]{1,6}$/;
const REFERENCE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** seven digits make a local phone number; a reference with that many in a row is refused */
const DIGIT_RUN = /\d{7,}/;

export function summarizeAnswer(answer: unknown, sent: readonly string[]): ProcessorSummary | undefined {
  if (!answer || typeof answer !== 'object' || Array.isArray(answer)) return undefined;
  const a = answer as Record<string, unknown>;
  const clean = (v: string): boolean => scrubAnswer(v, sent) === v;
  const out: ProcessorSummary = {};

  if (typeof a.approved === 'boolean') out.approved = a.approved;
  const status = first(a, STATUS_KEYS, (v) => (typeof v === 'string' && STATUS.test(v) && clean(v) ? v.toLowerCase() : undefined));
  if (status !== undefined) out.status = status;
  const code = first(a, CODE_KEYS, (v) => {
    const text = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v;
    return typeof text === 'string' && CODE.test(text) && clean(text) ? text : undefined;
  });
  if (code !== undefined) out.code = code;
  const reference = first(a, REFERENCE_KEYS, (v) =>
    typeof v === 'string' && REFERENCE.test(v) && !DIGIT_RUN.test(v.replace(/[_.:-]/g, '')) && clean(v) ? v : undefined,
  );
  if (reference !== undefined) out.reference = reference;

  return Object.keys(out).length > 0 ? out : undefined;
}

function first<T>(a: Record<string, unknown>, keys: readonly string[], accept: (v: unknown) => T | undefined): T | undefined {
  for (const k of keys) {
    if (!Object.prototype.hasOwnProperty.call(a, k)) continue;
    const v = accept(a[k]);
    if (v !== undefined) return v;
  }
  return undefined;
}
