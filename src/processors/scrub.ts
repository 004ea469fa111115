/**
 * A processor's answer is shown to the agent (processor.result), but a processor may echo what
 * it was sent: a card number in an error message, the caller's number in a receipt. Before the
 * answer leaves this module every value the delivery sent is masked out of it, wherever it
 * stands. Values shorter than 4 characters (a security code) are masked only where they stand
 * alone: a whole string or number, or a run of digits no other digit touches ("cvv-737-mismatch",
 * "cvv_737"), since as parts of longer numbers ("R-7371") they would also hit unrelated text.
 */
const MIN_SUBSTRING_LENGTH = 4;

export function scrubAnswer(answer: unknown, sent: readonly string[]): unknown {
  const long = sent.filter((v) => v.length >= MIN_SUBSTRING_LENGTH).sort((a, b) => b.length - a.length);
  const shortValues = sent.filter((v) => v.length > 0 && v.length < MIN_SUBSTRING_LENGTH);
  const short = new Set(shortValues);
  // the short values that are digits, each as a run of digits standing alone
  const digitRuns = [...new Set(shortValues.filter((v) => /^\d+$/.test(v)))].map((v) => new RegExp(`(?<!\\d)${v}(?!\\d)`, 'g'));
  const text = (s: string): string => {
    if (short.has(s)) return '*'.repeat(s.length);
    let out = s;
    for (const v of long) out = out.split(v).join('*'.repeat(v.length));
    for (const run of digitRuns) out = out.replace(run, (m) => '*'.repeat(m.length));
    return out;
  };
  const walk = (x: unknown, depth: number): unknown => {
    if (depth > 32) return null;
    if (typeof x === 'string') return text(x);
    if (typeof x === 'number') {
      const s = String(x);
      const masked = text(s);
      return masked === s ? x : masked;
    }
    if (Array.isArray(x)) return x.map((e) => walk(e, depth + 1));
    if (x && typeof x === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(x)) out[text(k)] = walk(v, depth + 1);
      return out;
    }
    return x;
  };
  return walk(answer, 0);
}
