export type { FieldKind } from '../kinds';

/** Lower-case card brands as shown in masked forms (CONTRACT §5). */
export const CARD_BRANDS = ['visa', 'mastercard', 'amex', 'discover', 'jcb', 'diners', 'unionpay', 'maestro'] as const;
export type CardBrand = (typeof CARD_BRANDS)[number];

export interface ValidationContext {
  /** The clock for expiry and date checks; compared in UTC. */
  now: Date;
  /** The call's card brand, which decides the security-code length. */
  cardBrand?: CardBrand;
  /** Bounds for the `digits` and `postal-code` kinds only. */
  minLength?: number;
  maxLength?: number;
  /** card-number only: the brands accepted; a valid number of any other brand fails with `card-type` */
  validCardTypes?: readonly CardBrand[];
}

/**
 * Why a value was refused. A fixed code, never the value or any part of it, so it is safe to
 * log, to put in an audit entry or to send to an agent.
 */
export type ValidationReason = 'not-digits' | 'length' | 'luhn' | 'brand' | 'card-type' | 'month' | 'past' | 'future' | 'calendar' | 'checksum' | 'prefix';

export type ValidationResult = { valid: true; brand?: CardBrand } | { valid: false; reason: ValidationReason };

export const VALID: ValidationResult = Object.freeze({ valid: true });

export function invalid(reason: ValidationReason): ValidationResult {
  return { valid: false, reason };
}

const DIGITS_ONLY = /^[0-9]*$/;

export function isDigits(value: string): boolean {
  return DIGITS_ONLY.test(value);
}
