import { type ValidationResult, VALID, invalid, isDigits } from './types';

/** How far ahead an expiry may lie; issuers print at most about 10, so 20 only stops typos. */
export const EXPIRY_MAX_YEARS_AHEAD = 20;
export const EXPIRY_LENGTH = 4;

/**
 * How far the latest time zone (UTC-12) is behind UTC: the last place an expiry month ends. The
 * service does not know the caller's zone, so it reads "now" there.
 */
const LATEST_ZONE_OFFSET_MS = 12 * 60 * 60 * 1000;

/**
 * Card expiry as MMYY. A card is valid through the end of its expiry month where its holder is,
 * so the current month is accepted, and it stays current until it has ended everywhere: the
 * month is read at UTC-12, not in UTC, or a card in its last valid evening in the Americas (31
 * May 20:00 in New York is 1 June in UTC) would be refused. The issuer, not this check, declines
 * a card a few hours past its end further east. The two-digit year is read in the current
 * century, except that a year more than 50 years behind now is taken as the next century.
 */
export function validateExpiry(digits: string, utcNow: Date): ValidationResult {
  if (!isDigits(digits)) return invalid('not-digits');
  if (digits.length !== EXPIRY_LENGTH) return invalid('length');
  const month = Number(digits.slice(0, 2));
  const yy = Number(digits.slice(2, 4));
  if (month < 1 || month > 12) return invalid('month');

  const now = new Date(utcNow.getTime() - LATEST_ZONE_OFFSET_MS);
  const nowYear = now.getUTCFullYear();
  let year = Math.floor(nowYear / 100) * 100 + yy;
  if (year < nowYear - 50) year += 100;

  const monthIndex = year * 12 + (month - 1);
  const nowIndex = nowYear * 12 + now.getUTCMonth();
  if (monthIndex < nowIndex) return invalid('past');
  if (monthIndex > nowIndex + EXPIRY_MAX_YEARS_AHEAD * 12) return invalid('future');
  return VALID;
}
