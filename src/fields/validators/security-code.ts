import { type CardBrand, type ValidationResult, VALID, invalid, isDigits } from './types';

/** American Express prints a 4-digit CID; every other brand a 3-digit CVV2/CVC2. */
export function securityCodeLength(cardBrand?: CardBrand): number {
  return cardBrand === 'amex' ? 4 : 3;
}

export function validateSecurityCode(digits: string, cardBrand?: CardBrand): ValidationResult {
  if (!isDigits(digits)) return invalid('not-digits');
  if (digits.length !== securityCodeLength(cardBrand)) return invalid('length');
  return VALID;
}
