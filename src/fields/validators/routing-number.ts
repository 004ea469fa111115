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

/**
 * Whether the first two digits are a prefix the Federal Reserve assigns: 00 (the US government),
 * 01-12 (a Federal Reserve district), 21-32 (thrift institutions), 61-72 (electronic transactions)
 * or 80 (traveler's cheques). No routing number starts with any other.
 */
export function abaPrefixValid(digits: string): boolean {
  const prefix = Number(digits.slice(0, 2));
  return prefix <= 12 || (prefix >= 21 && prefix <= 32) || (prefix >= 61 && prefix <= 72) || prefix === 80;
}

export function validateRoutingNumber(digits: string): ValidationResult {
  if (!isDigits(digits)) return invalid('not-digits');
  if (digits.length !== ROUTING_NUMBER_LENGTH) return invalid('length');
  if (!abaChecksumValid(digits)) return invalid('checksum');
  if (!abaPrefixValid(digits)) return invalid('prefix');
  return VALID;
}
