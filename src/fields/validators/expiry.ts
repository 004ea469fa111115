import { type ValidationResult, VALID, invalid, isDigits } from './types';

/** How far ahead an expiry may lie; issuers print at most about 10, so 20 only stops typos. */
export const EXPIRY_MAX_YEARS_AHEAD = 20;
export const EXPIRY_LENGTH = 4;

/**
 * Card expiry as MMYY. A card is valid through the end of its expiry month, so the current
 * month (in UTC, from ctx.now) is accepted. The two-digit year is read in the current century,
 * except that a year more than 50 years behind now is taken as the next century.
 */
export function validateExpiry(digits: string, now: Date): ValidationResult {
  if (!isDigits(digits)) return invalid('not-digits');
  if (digits.length !== EXPIRY_LENGTH) return invalid('length');
  const month = Number(digits.slice(0, 2));
  const yy = Number(digits.slice(2, 4));
  if (month < 1 || month > 12) return invalid('month');

  const nowYear = now.getUTCFullYear();
  let year = Math.floor(nowYear / 100) * 100 + yy;
  if (year < nowYear - 50) year += 100;

  const monthIndex = year * 12 + (month - 1);
  const nowIndex = nowYear * 12 + now.getUTCMonth();
  if (monthIndex < nowIndex) return invalid('past');
  if (monthIndex > nowIndex + EXPIRY_MAX_YEARS_AHEAD * 12) return invalid('future');
  return VALID;
}
