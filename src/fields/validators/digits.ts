import { type ValidationResult, VALID, invalid, isDigits } from './types';

export const DIGITS_DEFAULT_MIN_LENGTH = 1;
export const DIGITS_DEFAULT_MAX_LENGTH = 32;

export function validateDigits(digits: string, minLength?: number, maxLength?: number): ValidationResult {
  if (!isDigits(digits)) return invalid('not-digits');
  const min = minLength ?? DIGITS_DEFAULT_MIN_LENGTH;
  const max = maxLength ?? DIGITS_DEFAULT_MAX_LENGTH;
  if (digits.length < min || digits.length > max) return invalid('length');
  return VALID;
}
