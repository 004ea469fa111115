/** an expiry (MMYY) `monthsAhead` months from now, in UTC like the validator */
export function currentExpiry(monthsAhead = 0): string {
  const d = new Date();
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + monthsAhead, 1));
  return String(t.getUTCMonth() + 1).padStart(2, '0') + String(t.getUTCFullYear() % 100).padStart(2, '0');
}

/**
 * Whether `text` holds `value` as a value of its own. Long values (card and account numbers, a
 * full phone number) are searched as they are. A short one (an expiry, a security code) would
 * turn up by chance inside the hex of a hash or the base64 of a ciphertext or token, so it only
 * counts where no hex digit stands either side of it, it is not the fraction of a number, and it is not a letter-bound piece
 * of an encoded blob: the run of base64 characters around it is too short to be one, or the
 * value stands between separators (`-`, `_`, `+`, `/`) or at the run's ends, as in
 * `"cvv":"737"`, `cvv=737`, `cvv737` or `cvv-737-mismatch`; `…Zq737x…` in a sealed value does not.
 */
export function holdsValue(text: string, value: string): boolean {
  if (value.length >= 8) return text.includes(value);
  // nor the fraction of a number: a timestamp's milliseconds (`…T12:28:02.737Z`), a duration
  const standalone = new RegExp(`(?<![0-9a-fA-F])(?<!\\d\\.)${value.replace(/[+]/g, '\\+')}(?![0-9a-fA-F])`, 'g');
  for (const m of text.matchAll(standalone)) {
    const at = m.index ?? 0;
    let start = at;
    let end = at + value.length;
    while (start > 0 && BASE64_CHAR.test(text[start - 1])) start--;
    while (end < text.length && BASE64_CHAR.test(text[end])) end++;
    if (end - start < ENCODED_RUN) return true;
    const bound = (i: number) => i < start || i >= end || SEPARATOR.test(text[i]);
    if (bound(at - 1) && bound(at + value.length)) return true;
  }
  return false;
}

/** the shortest run of base64 or base64url characters taken for an encoded blob (a ciphertext, a token, a hash) */
const ENCODED_RUN = 16;
const BASE64_CHAR = /[A-Za-z0-9+/_-]/;
const SEPARATOR = /[+/_-]/;
