/**
 * What this process last wrote to some keys: a guess of their current value, so that a
 * read-modify-write can go straight to compare-and-set (one round trip) instead of reading
 * first. A wrong guess (another instance wrote since) costs only the retry compare-and-set
 * answers with; the guess never decides anything on its own. Bounded: the oldest are forgotten.
 */
export class RecentValues {
  private readonly values = new Map<string, string | null>();

  constructor(private readonly max = 1024) {}

  /** the value last seen for `key`; undefined when nothing is known (read it) */
  guess(key: string): string | null | undefined {
    return this.values.get(key);
  }

  remember(key: string, value: string | null): void {
    this.values.delete(key);
    this.values.set(key, value);
    if (this.values.size > this.max) this.values.delete(this.values.keys().next().value as string);
  }

  forget(key: string): void {
    this.values.delete(key);
  }
}
