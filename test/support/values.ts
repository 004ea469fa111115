/** an expiry (MMYY) `monthsAhead` months from now, in UTC like the validator */
export function currentExpiry(monthsAhead = 0): string {
  const d = new Date();
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + monthsAhead, 1));
  return String(t.getUTCMonth() + 1).padStart(2, '0') + String(t.getUTCFullYear() % 100).padStart(2, '0');
}

/**
 * Whether `text` holds `value` as a value of its own. Long values (card and account numbers, a
 * full phone number) are searched as they are; a short one (an expiry, a security code) would
 * turn up by chance inside the hex of a hash or a token, so it only counts where no hex digit
 * stands either side of it.
 */
export function holdsValue(text: string, value: string): boolean {
  if (value.length >= 8) return text.includes(value);
  return new RegExp(`(?<![0-9a-fA-F])${value.replace(/[+]/g, '\\+')}(?![0-9a-fA-F])`).test(text);
}
