import { type ValidationResult, VALID, invalid, isDigits } from './types';

export const DATE_LENGTH = 8;

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * How far the earliest time zone (UTC+14) is ahead of UTC: the first place a day begins. The
 * service does not know the caller's zone, so it reads "today" there.
 */
const EARLIEST_ZONE_OFFSET_MS = 14 * 60 * 60 * 1000;

/**
 * A date as DDMMYYYY (a date of birth, say): a real Gregorian calendar date, not after today
 * (today itself is valid). Today is the date at UTC+14, the first place it begins, so a caller
 * east of UTC keying their own today (16 June 08:00 in Sydney is 15 June in UTC) is not refused
 * as future. Year 0000 does not exist in the calendar and is refused.
 */
export function validateDate(digits: string, utcNow: Date): ValidationResult {
  if (!isDigits(digits)) return invalid('not-digits');
  if (digits.length !== DATE_LENGTH) return invalid('length');
  const day = Number(digits.slice(0, 2));
  const month = Number(digits.slice(2, 4));
  const year = Number(digits.slice(4, 8));
  if (month < 1 || month > 12) return invalid('month');
  if (year < 1 || day < 1 || day > daysInMonth(year, month)) return invalid('calendar');

  // Compare as YYYYMMDD numbers: no Date object, so no time-zone or two-digit-year surprises.
  const value = year * 10000 + month * 100 + day;
  const now = new Date(utcNow.getTime() + EARLIEST_ZONE_OFFSET_MS);
  const today = now.getUTCFullYear() * 10000 + (now.getUTCMonth() + 1) * 100 + now.getUTCDate();
  if (value > today) return invalid('future');
  return VALID;
}
