import { CARD_MAX_LENGTH, validateCardNumber } from './card-number';
import { DATE_LENGTH, validateDate } from './date';
import { DIGITS_DEFAULT_MAX_LENGTH, validateDigits } from './digits';
import { EXPIRY_LENGTH, validateExpiry } from './expiry';
import { POSTAL_CODE_DEFAULT_MAX_LENGTH, validatePostalCode } from './postal-code';
import { ROUTING_NUMBER_LENGTH, validateRoutingNumber } from './routing-number';
import { securityCodeLength, validateSecurityCode } from './security-code';
import type { CardBrand, FieldKind, ValidationContext, ValidationResult } from './types';

export { FIELD_KINDS, isFieldKind } from '../kinds';
export { CARD_BRANDS } from './types';
export type { CardBrand, FieldKind, ValidationContext, ValidationReason, ValidationResult } from './types';
export { cardBrand, CARD_MIN_LENGTH, CARD_MAX_LENGTH } from './card-number';
export { luhnValid, luhnCheckDigit } from './luhn';
export { abaChecksumValid } from './routing-number';
export { securityCodeLength } from './security-code';
export { POSTAL_CODE_DEFAULT_MIN_LENGTH, POSTAL_CODE_DEFAULT_MAX_LENGTH } from './postal-code';
export { DIGITS_DEFAULT_MIN_LENGTH, DIGITS_DEFAULT_MAX_LENGTH } from './digits';

/** Validate a complete value of `kind`. The result never carries the value, only a fixed code. */
export function validate(kind: FieldKind, digits: string, ctx: ValidationContext): ValidationResult {
  switch (kind) {
    case 'digits':
      return validateDigits(digits, ctx.minLength, ctx.maxLength);
    case 'card-number':
      return acceptedBrand(validateCardNumber(digits), ctx.validCardTypes);
    case 'expiry':
      return validateExpiry(digits, ctx.now);
    case 'security-code':
      return validateSecurityCode(digits, ctx.cardBrand);
    case 'date':
      return validateDate(digits, ctx.now);
    case 'routing-number':
      return validateRoutingNumber(digits);
    case 'postal-code':
      return validatePostalCode(digits, ctx.minLength, ctx.maxLength);
  }
}

/** a valid card of a brand the step does not take fails as `card-type` (Twilio's invalid-card-type) */
function acceptedBrand(result: ValidationResult, validCardTypes?: readonly CardBrand[]): ValidationResult {
  if (!result.valid || !validCardTypes || !result.brand || validCardTypes.includes(result.brand)) return result;
  return { valid: false, reason: 'card-type' };
}

/** The most digits a value of `kind` can have: a capture ends when this many are entered. */
export function maxLengthFor(kind: FieldKind, ctx: { cardBrand?: CardBrand; maxLength?: number }): number {
  switch (kind) {
    case 'digits':
      return ctx.maxLength ?? DIGITS_DEFAULT_MAX_LENGTH;
    case 'card-number':
      return CARD_MAX_LENGTH;
    case 'expiry':
      return EXPIRY_LENGTH;
    case 'security-code':
      return securityCodeLength(ctx.cardBrand);
    case 'date':
      return DATE_LENGTH;
    case 'routing-number':
      return ROUTING_NUMBER_LENGTH;
    case 'postal-code':
      return ctx.maxLength ?? POSTAL_CODE_DEFAULT_MAX_LENGTH;
  }
}
