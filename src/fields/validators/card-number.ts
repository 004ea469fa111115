import { luhnValid } from './luhn';
import { type CardBrand, type ValidationResult, invalid, isDigits } from './types';

/** Shortest and longest PAN lengths (ISO/IEC 7812-1 allows 8-19; card networks issue 12-19). */
export const CARD_MIN_LENGTH = 12;
export const CARD_MAX_LENGTH = 19;

interface IinRange {
  brand: CardBrand;
  /** How many leading digits the range is written in. */
  prefixLength: number;
  from: number;
  to: number;
}

function range(brand: CardBrand, from: string, to: string = from): IinRange {
  return { brand, prefixLength: from.length, from: Number(from), to: Number(to) };
}

/**
 * IIN ranges, most specific (longest prefix) first: the first match wins. Two places overlap:
 *
 * - 622126-622925 lies inside UnionPay's 62. These are UnionPay cards co-branded with Discover
 *   and are accepted on the Discover network, which is how a US processor routes them, so they
 *   are reported as `discover`; every other 62 prefix is `unionpay`.
 * - 6759 and 6761-6763 lie inside Maestro's broader 67; both are Maestro, listed for clarity.
 *
 * 6304 (Maestro/Laser) and 81 (UnionPay) overlap nothing here.
 */
const IIN_RANGES: readonly IinRange[] = Object.freeze([
  range('discover', '622126', '622925'),
  range('discover', '6011'),
  range('maestro', '6304'),
  range('maestro', '6759'),
  range('maestro', '6761', '6763'),
  range('diners', '3095'),
  range('mastercard', '2221', '2720'),
  range('jcb', '3528', '3589'),
  range('discover', '644', '649'),
  range('diners', '300', '305'),
  range('visa', '4'),
  range('mastercard', '51', '55'),
  range('amex', '34'),
  range('amex', '37'),
  range('discover', '65'),
  range('diners', '36'),
  range('diners', '38', '39'),
  range('unionpay', '62'),
  range('unionpay', '81'),
  range('maestro', '50'),
  range('maestro', '56', '58'),
  range('maestro', '67'),
]);

/** Lengths each brand issues. */
const BRAND_LENGTHS: Readonly<Record<CardBrand, readonly number[]>> = Object.freeze({
  visa: [13, 16, 19],
  mastercard: [16],
  amex: [15],
  discover: [16, 17, 18, 19],
  jcb: [16, 17, 18, 19],
  diners: [14, 15, 16, 17, 18, 19],
  unionpay: [16, 17, 18, 19],
  maestro: [12, 13, 14, 15, 16, 17, 18, 19],
});

/**
 * The brand of a (possibly partial) card number from its leading digits, or undefined when no
 * known range matches. A range is only considered once enough digits are present to decide it.
 */
export function cardBrand(digits: string): CardBrand | undefined {
  if (!isDigits(digits)) return undefined;
  for (const r of IIN_RANGES) {
    if (digits.length < r.prefixLength) continue;
    const prefix = Number(digits.slice(0, r.prefixLength));
    if (prefix >= r.from && prefix <= r.to) return r.brand;
  }
  return undefined;
}

/**
 * A complete card number: digits only, 12-19 long, Luhn-valid, from a known brand and of a
 * length that brand issues. Numbers from unknown ranges are refused (`brand`): the service
 * cannot tell the agent or the processor what they are, nor how long their security code is.
 */
export function validateCardNumber(digits: string): ValidationResult {
  if (!isDigits(digits)) return invalid('not-digits');
  if (digits.length < CARD_MIN_LENGTH || digits.length > CARD_MAX_LENGTH) return invalid('length');
  if (!luhnValid(digits)) return invalid('luhn');
  const brand = cardBrand(digits);
  if (brand === undefined) return invalid('brand');
  if (!BRAND_LENGTHS[brand].includes(digits.length)) return invalid('length');
  return { valid: true, brand };
}
