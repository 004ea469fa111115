/**
 * What one instance holds in memory of work the store keeps (the hang-up watch, the result
 * POST): a timer per id for when it is next due, and the runs in flight. Losing it loses nothing:
 * the store says what is due, and any instance's next scan schedules it again.
 */
export class DueWork {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inflight = new Map<string, Promise<void>>();
  /** came due while its last run was still going: run again once that ends */
  private readonly again = new Set<string>();
  private active = false;
  private scanner?: NodeJS.Timeout;

  constructor(
    private readonly run: (id: string) => Promise<void>,
    /** a run that threw: logged by the owner, and the work stays in the store for the next turn */
    private readonly failed: (id: string, err: unknown) => void,
  ) {}

  /**
   * Takes up what the store holds (`scan` schedules it with `at`), then scans again every
   * `everyMs` for work other instances left or queued; once only, however often it is called.
   */
  async start(scan: () => Promise<void>, everyMs: number, scanFailed: (err: unknown) => void): Promise<void> {
    if (this.active) return;
    this.active = true;
    await scan();
    this.scanner = setInterval(() => scan().catch(scanFailed), everyMs);
    this.scanner.unref();
  }

  /** scheduled or running here: a scan leaves it alone */
  holds(id: string): boolean {
    return this.timers.has(id) || this.inflight.has(id);
  }

  /** runs `id` at `atMs` (epoch ms; now if past), replacing a timer it had; nothing once stopped */
  at(id: string, atMs: number): void {
    if (!this.active) return;
    this.cancel(id);
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        this.now(id);
      },
      Math.max(0, atMs - Date.now()),
    );
    t.unref();
    this.timers.set(id, t);
  }

  cancel(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  /** stops every timer and waits for the runs in flight; what they leave is in the store */
  async stop(): Promise<void> {
    this.active = false;
    if (this.scanner) clearInterval(this.scanner);
    this.scanner = undefined;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.again.clear();
    await Promise.allSettled([...this.inflight.values()]);
  }

  private now(id: string): void {
    if (this.inflight.has(id)) {
      this.again.add(id);
      return;
    }
    const p = this.run(id)
      .catch((err: unknown) => this.failed(id, err))
      .finally(() => {
        this.inflight.delete(id);
        if (this.again.delete(id)) this.at(id, Date.now());
      });
    this.inflight.set(id, p);
  }
}
