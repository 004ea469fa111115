import { type ValidationResult, VALID, invalid, isDigits } from './types';

/**
 * Bounds of a postal code keyed on a telephone keypad: digits only (DTMF carries no letters,
 * and Twilio's <Pay postalCode> takes digits too). 3 covers the shortest national codes
 * (Iceland, the Faroes), 10 a US ZIP+4 keyed with its dash left out plus one spare; a flow
 * narrows them with minLength/maxLength (5 and 5 for a US ZIP).
 */
export const POSTAL_CODE_DEFAULT_MIN_LENGTH = 3;
export const POSTAL_CODE_DEFAULT_MAX_LENGTH = 10;

export function validatePostalCode(digits: string, minLength?: number, maxLength?: number): ValidationResult {
  if (!isDigits(digits)) return invalid('not-digits');
  const min = minLength ?? POSTAL_CODE_DEFAULT_MIN_LENGTH;
  const max = maxLength ?? POSTAL_CODE_DEFAULT_MAX_LENGTH;
  if (digits.length < min || digits.length > max) return invalid('length');
  return VALID;
}
