import { type ValidationResult, VALID, invalid, isDigits } from './types';

export const ROUTING_NUMBER_LENGTH = 9;

/** ABA routing transit number checksum weights, repeated over the 9 digits. */
const ABA_WEIGHTS = [3, 7, 1, 3, 7, 1, 3, 7, 1] as const;

export function abaChecksumValid(digits: string): boolean {
  if (digits.length !== ROUTING_NUMBER_LENGTH || !isDigits(digits)) return false;
  let sum = 0;
  for (let i = 0; i < ROUTING_NUMBER_LENGTH; i++) sum += (digits.charCodeAt(i) - 48) * ABA_WEIGHTS[i];
  return sum % 10 === 0;
}

export function validateRoutingNumber(digits: string): ValidationResult {
  if (!isDigits(digits)) return invalid('not-digits');
  if (digits.length !== ROUTING_NUMBER_LENGTH) return invalid('length');
  if (!abaChecksumValid(digits)) return invalid('checksum');
  return VALID;
}
