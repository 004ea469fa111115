/**
 * What this process last wrote to some keys: a guess of their current value, so that a
 * read-modify-write can go straight to compare-and-set (one round trip) instead of reading
 * first. A wrong guess (another instance wrote since) costs only the retry compare-and-set
 * answers with; the guess never decides anything on its own.
 *
 * Bounded in two generations: the newest `max` keys are kept, and the `max` before them until
 * the newest fill up again. Forgetting the oldest one key at a time from one Map cost a scan:
 * V8's Map leaves a hole for each deleted entry, and finding the oldest skipped them all.
 */
export class RecentValues {
  private current = new Map<string, string | null>();
  private previous = new Map<string, string | null>();

  constructor(private readonly max = 1024) {}

  /** the value last seen for `key`; undefined when nothing is known (read it) */
  guess(key: string): string | null | undefined {
    const v = this.current.get(key);
    return v !== undefined || this.current.has(key) ? v : this.previous.get(key);
  }

  remember(key: string, value: string | null): void {
    this.previous.delete(key);
    // a key new to the Map is kept as a copy: one cut from a longer string (a CallSid the form
    // parser sliced from a webhook's body) would keep that whole string alive with it, the
    // caller's number in it, for as long as the key is remembered (thousands of calls later)
    this.current.set(this.current.has(key) ? key : ownCopy(key), value);
    if (this.current.size >= this.max) {
      this.previous = this.current;
      this.current = new Map();
    }
  }

  forget(key: string): void {
    this.current.delete(key);
    this.previous.delete(key);
  }
}

/** the characters of `s` in a string of their own: V8 keeps a substring of 13 characters or more as a slice of its parent, which it then keeps alive */
export function ownCopy(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}
