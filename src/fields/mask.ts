import { type CardBrand, type FieldKind, type ValidationResult, CARD_MIN_LENGTH, cardBrand } from './validators';

/** A field as agents, APIs and logs may see it (CONTRACT §5). */
export interface MaskedField {
  kind: FieldKind;
  masked: string;
  last4?: string;
  brand?: CardBrand;
  valid: boolean;
}

const VISIBLE_TAIL = 4;

/**
 * The masked form of a complete value. A card shows '*' per hidden digit and its last 4, with
 * its brand; every other kind is all '*', one per digit.
 *
 * The last 4 of a card are only shown once it is at least CARD_MIN_LENGTH long. Shown on a
 * shorter, still-growing entry, a sliding last 4 would reveal every digit in turn; use
 * `maskProgress` for values still being keyed.
 */
export function maskValue(kind: FieldKind, digits: string, brand?: CardBrand): { masked: string; last4?: string; brand?: CardBrand } {
  if (kind !== 'card-number') return { masked: '*'.repeat(digits.length) };
  const shownBrand = brand ?? cardBrand(digits);
  if (digits.length < CARD_MIN_LENGTH) {
    return { masked: '*'.repeat(digits.length), ...(shownBrand ? { brand: shownBrand } : {}) };
  }
  const last4 = digits.slice(-VISIBLE_TAIL);
  return {
    masked: '*'.repeat(digits.length - VISIBLE_TAIL) + last4,
    last4,
    ...(shownBrand ? { brand: shownBrand } : {}),
  };
}

/**
 * The masked view of a validated value, as the call record and the agent API show it. A value
 * that failed validation shows no digit at all, whatever its kind: a card's "last 4" of a failed
 * entry are just the last keys pressed, which an agent could steer the caller into making the
 * security code.
 */
export function maskField(kind: FieldKind, digits: string, result: ValidationResult): MaskedField {
  if (!result.valid) return { kind, masked: maskProgress(digits), valid: false };
  return { kind, ...maskValue(kind, digits, result.brand), valid: true };
}

/** A value still being keyed: one '*' per digit and nothing else, whatever the kind. */
export function maskProgress(digits: string): string {
  return '*'.repeat(digits.length);
}

const E164 = /^\+[1-9][0-9]{6,14}$/;
/** '+' and too few digits to be a whole number: showing 4 of them would show nearly all. */
const SHORT_PLUS_DIGITS = /^\+[0-9]{1,6}$/;
/** Anything not a phone is shown at most this long, so a long string cannot flood a log line. */
const MAX_OTHER_MASK_CHARS = 16;

/**
 * A caller number as '+' + '*' per hidden digit + the last 4 digits ('+15551234567' ->
 * '+*******4567'). Anything else ('anonymous', 'client:alice', a SIP URI, a number without '+')
 * keeps at most its last 4 characters, and only letters or digits among them, so the output
 * can never carry markup or control characters; a text of 4 characters or fewer is all '*'.
 */
export function maskPhone(e164: string): string {
  if (E164.test(e164)) {
    const digits = e164.slice(1);
    return '+' + '*'.repeat(digits.length - VISIBLE_TAIL) + digits.slice(-VISIBLE_TAIL);
  }
  if (SHORT_PLUS_DIGITS.test(e164)) return '+' + '*'.repeat(e164.length - 1);
  const chars = Array.from(e164);
  if (chars.length <= VISIBLE_TAIL) return '*'.repeat(chars.length);
  const tail = chars
    .slice(-VISIBLE_TAIL)
    .map((c) => (/^[A-Za-z0-9]$/.test(c) ? c : '*'))
    .join('');
  const hidden = Math.min(chars.length - VISIBLE_TAIL, MAX_OTHER_MASK_CHARS - VISIBLE_TAIL);
  return '*'.repeat(hidden) + tail;
}
