/** an expiry (MMYY) `monthsAhead` months from now, in UTC like the validator */
export function currentExpiry(monthsAhead = 0): string {
  const d = new Date();
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + monthsAhead, 1));
  return String(t.getUTCMonth() + 1).padStart(2, '0') + String(t.getUTCFullYear() % 100).padStart(2, '0');
}
