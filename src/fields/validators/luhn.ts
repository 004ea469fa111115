import { isDigits } from './types';

/** Luhn (ISO/IEC 7812-1 annex B) sum of `digits`, doubling every second digit from the right. */
function luhnSum(digits: string, doubleRightmost: boolean): number {
  let sum = 0;
  let double = doubleRightmost;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum;
}

/** True when `digits` is a non-empty digit string whose Luhn checksum holds. */
export function luhnValid(digits: string): boolean {
  if (digits.length === 0 || !isDigits(digits)) return false;
  return luhnSum(digits, false) % 10 === 0;
}

/** The check digit that, appended to `payload`, makes it Luhn-valid. */
export function luhnCheckDigit(payload: string): string {
  if (!isDigits(payload)) throw new TypeError('luhnCheckDigit expects digits');
  return String((10 - (luhnSum(payload, true) % 10)) % 10);
}
