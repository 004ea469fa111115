/**
 * A poll, every so often, of work the store keeps for any instance to take up (kept erasure
 * forwards, kept recording deletions): one poll at a time (a tick while one runs is skipped),
 * a failure logged by the owner and left to the next tick, nothing kept in memory that the
 * store does not hold.
 */
export class Poller {
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;

  constructor(
    private readonly poll: () => Promise<void>,
    /** a poll that threw: the owner logs it (its code, never its message) */
    private readonly failed: (err: unknown) => void,
  ) {}

  /** polls now (a failure thrown to the caller: the start's), then every `everyMs`; once only */
  async start(everyMs: number): Promise<void> {
    if (this.timer) return;
    await this.poll();
    this.timer = setInterval(() => {
      this.polling ??= this.poll()
        .catch(this.failed)
        .finally(() => (this.polling = undefined));
    }, everyMs);
    this.timer.unref();
  }

  /** no more ticks; waits for the poll under way */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }
}
