/**
 * Audit entries whose append failed for a reason a retry can mend (the store down, slow to
 * answer or reconnecting; too many concurrent appends), held in this process's memory and
 * written again in the background, so a store blip leaves no gap in a call's trail (PCI DSS 10)
 * and never holds up the action the entry records.
 *
 * Order: a call's entries held here are written before any later entry of the same call made by
 * this process. A later `append` joins them (no round trip while they wait), and a write that
 * chains entries onto the trail (AuditTrail.chain: a webhook's, a call's creation) carries them
 * first, so the webhook path costs no extra round trip for them. The chain's sequence and links
 * are made when an entry is written, so a trail written late verifies as any other; each entry
 * keeps the time it happened (`at`).
 *
 * A try whose reply was lost (a timeout) may have landed: each held entry remembers the hashes
 * it was sealed as, and a held entry the stored trail already holds is taken as written, never
 * chained again (AuditTrail.chain).
 *
 * Bounds: tries from RETRY.firstDelayMs, doubling to maxDelayMs; an entry held longer than
 * giveUpAfterMs after its first failure is given up (its last try at that moment); at most
 * maxHeld entries are held, the oldest given up first. Given up, and at shutdown what one last
 * try did not write, an entry is counted `not-written` and logged (never its data).
 *
 * Memory only: an entry passed the personal-data check (pii.ts) before it could be held, and its
 * strings are copied so that none keeps alive the webhook body it was cut from (store/recent.ts).
 */
import { ownCopy } from '../store';
import type { PreparedEntry } from './trail';

export interface AuditRetry {
  /** the wait before the first retry, doubled after each failed one */
  firstDelayMs: number;
  maxDelayMs: number;
  /** how long after its failed append an entry is tried, at most */
  giveUpAfterMs: number;
  /** entries held at most, over all calls */
  maxHeld: number;
}

/**
 * 0.5 s doubling to 30 s bridges a Redis restart or a failover (seconds) many times over; 5
 * minutes of tries is a dozen or so, and past that the outage is one an operator is paged for
 * (TonewallStoreUnavailable). 10,000 entries of a few hundred bytes each, with the hash of every
 * try that may have landed (`sealedAs`: a dozen or so per entry over 5 minutes, about 100 bytes
 * each), come to about 20 MB at most: bounded, and only while the store is away.
 */
export const AUDIT_RETRY: Readonly<AuditRetry> = Object.freeze({ firstDelayMs: 500, maxDelayMs: 30_000, giveUpAfterMs: 5 * 60_000, maxHeld: 10_000 });

/** an entry on its way to the store, with the hashes it was sealed as in tries that may have landed */
export interface Pending {
  readonly entry: PreparedEntry;
  readonly sealedAs: Set<string>;
}

interface Held extends Pending {
  /** when its append failed (ms) */
  readonly heldAt: number;
  /** its place among all entries held, for giving up the oldest first */
  readonly order: number;
}

interface Backlog {
  items: Held[];
  delayMs: number;
  timer?: NodeJS.Timeout;
  /** the retry under way */
  writing?: Promise<void>;
}

/** why held entries were given up: `retries` (held past giveUpAfterMs), `full` (past maxHeld), `stopped` (the service stopped), `unwritable` (an error no retry mends) */
export type GivenUp = 'retries' | 'full' | 'stopped' | 'unwritable';

export interface HeldHooks {
  /** writes the call's held entries (AuditTrail.chain carries them, and `written` is told), throwing as the store does */
  write(callSid: string): Promise<void>;
  /** an error no retry mends (an unreadable trail): its entries are given up at once */
  permanent(err: unknown): boolean;
  held(callSid: string, type: string, err: unknown): void;
  written(callSid: string, entries: number, heldForMs: number): void;
  lost(callSid: string, types: string[], why: GivenUp): void;
  /** entries held now, over all calls */
  count(held: number): void;
}

export class HeldEntries {
  private readonly backlogs = new Map<string, Backlog>();
  private held = 0;
  private order = 0;
  private stopped = false;

  constructor(
    private readonly retry: AuditRetry,
    private readonly hooks: HeldHooks,
  ) {
    const { firstDelayMs, maxDelayMs, giveUpAfterMs, maxHeld } = retry;
    if (![firstDelayMs, maxDelayMs, giveUpAfterMs, maxHeld].every((n) => Number.isInteger(n) && n > 0) || maxDelayMs < firstDelayMs) {
      throw new RangeError('audit retry bounds must be positive whole numbers, maxDelayMs not under firstDelayMs');
    }
  }

  /** whether the service stopped: an append that fails now is not held */
  get closed(): boolean {
    return this.stopped;
  }

  has(callSid: string): boolean {
    return this.backlogs.has(callSid);
  }

  /** a new entry to write, for a try whose hashes are kept should it be held after (`hold`) */
  static pending(entry: PreparedEntry): Pending {
    return { entry, sealedAs: new Set() };
  }

  /**
   * The call's held entries still to write onto `trail` (its entries' hashes, as stored), oldest
   * first; those it holds already (a try whose reply was lost) are taken as written.
   */
  toWrite(callSid: string, trailHashes: () => ReadonlySet<string>): readonly Pending[] {
    const b = this.backlogs.get(callSid);
    if (!b) return [];
    const tried = b.items.filter((h) => h.sealedAs.size > 0);
    if (tried.length > 0) {
      const stored = trailHashes();
      const landed = tried.filter((h) => [...h.sealedAs].some((hash) => stored.has(hash)));
      if (landed.length > 0) this.written(callSid, landed);
    }
    // a copy: an entry held while the write is under way is not one it carries
    return [...(this.backlogs.get(callSid)?.items ?? [])];
  }

  /** Holds an entry whose append failed with `err`, behind the call's others, and tries it again later. */
  hold(callSid: string, p: Pending, err: unknown): void {
    if (this.held >= this.retry.maxHeld) this.dropOldest();
    let b = this.backlogs.get(callSid);
    if (!b) {
      b = { items: [], delayMs: this.retry.firstDelayMs };
      // kept for minutes: a key of its own, never a slice of the request it came in
      const key = ownCopy(callSid);
      this.backlogs.set(key, b);
      this.schedule(key, b, b.delayMs);
      this.hooks.held(key, p.entry.type, err);
    }
    b.items.push({ entry: ownEntry(p.entry), sealedAs: p.sealedAs, heldAt: Date.now(), order: this.order++ });
    this.count(+1);
  }

  /** `items` landed in the store (a retry, or a write that carried them): no longer held */
  written(callSid: string, items: readonly Pending[]): void {
    const b = this.backlogs.get(callSid);
    if (!b || items.length === 0) return;
    const done = new Set(items);
    const landed = b.items.filter((h) => done.has(h));
    if (landed.length === 0) return;
    b.items = b.items.filter((h) => !done.has(h));
    this.count(-landed.length);
    this.hooks.written(callSid, landed.length, Date.now() - landed[0].heldAt);
    if (b.items.length === 0) this.forget(callSid, b);
  }

  /**
   * One last try of every call's held entries, then what is still held is given up (counted,
   * logged); answers how many entries that was. The try is made once: a close asked again (the
   * process's, server.ts, when the app's own close hangs) waits for the same one. `budgetMs`
   * bounds the wait: past it, what is still held is given up without waiting for the try's end
   * (one that lands after is counted all the same: the count errs towards a gap, never hides one).
   */
  async close(budgetMs?: number): Promise<number> {
    this.stopped = true;
    this.lastTry ??= this.tryLast();
    if (budgetMs === undefined) await this.lastTry;
    else {
      let timer: NodeJS.Timeout | undefined;
      const spent = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, budgetMs))));
      await Promise.race([this.lastTry, spent]);
      clearTimeout(timer);
    }
    let lost = 0;
    for (const [callSid, b] of [...this.backlogs]) {
      lost += b.items.length;
      this.giveUp(callSid, b, b.items, 'stopped');
    }
    return lost;
  }

  private lastTry?: Promise<void>;

  private async tryLast(): Promise<void> {
    for (const b of this.backlogs.values()) clearTimeout(b.timer);
    await Promise.all([...this.backlogs.values()].map((b) => b.writing));
    await Promise.all([...this.backlogs.keys()].map((callSid) => this.attempt(callSid)));
  }

  private schedule(callSid: string, b: Backlog, delayMs: number): void {
    b.timer = setTimeout(() => {
      b.timer = undefined;
      b.writing = this.attempt(callSid).finally(() => (b.writing = undefined));
    }, delayMs);
    b.timer.unref();
  }

  private async attempt(callSid: string): Promise<void> {
    const b = this.backlogs.get(callSid);
    if (!b) return;
    try {
      await this.hooks.write(callSid);
    } catch (err) {
      if (this.backlogs.get(callSid) !== b) return;
      if (this.hooks.permanent(err)) return this.giveUp(callSid, b, b.items, 'unwritable');
      const now = Date.now();
      const expired = b.items.filter((h) => now - h.heldAt >= this.retry.giveUpAfterMs);
      if (expired.length > 0) this.giveUp(callSid, b, expired, 'retries');
      if (this.stopped || this.backlogs.get(callSid) !== b) return;
      b.delayMs = Math.min(b.delayMs * 2, this.retry.maxDelayMs);
      // the oldest entry's last try is when its time is up, not a whole delay past it
      const untilGiveUp = b.items[0].heldAt + this.retry.giveUpAfterMs - now;
      this.schedule(callSid, b, Math.max(0, Math.min(b.delayMs, untilGiveUp)));
      return;
    }
    // entries held while it was written are written now: the store just answered
    if (!this.stopped && this.backlogs.get(callSid) === b && b.items.length > 0) {
      b.delayMs = this.retry.firstDelayMs;
      this.schedule(callSid, b, 0);
    }
  }

  /**
   * Past maxHeld: the oldest entry held goes. One a retry carries at that moment is counted lost
   * even if that retry lands (the count errs towards a gap, never hides one).
   */
  private dropOldest(): void {
    let oldest: [string, Backlog] | undefined;
    for (const e of this.backlogs) if (!oldest || e[1].items[0].order < oldest[1].items[0].order) oldest = e;
    if (oldest) this.giveUp(oldest[0], oldest[1], [oldest[1].items[0]], 'full');
  }

  private giveUp(callSid: string, b: Backlog, items: readonly Held[], why: GivenUp): void {
    const gone = new Set(items);
    b.items = b.items.filter((h) => !gone.has(h));
    this.count(-items.length);
    this.hooks.lost(
      callSid,
      items.map((h) => h.entry.type),
      why,
    );
    if (b.items.length === 0) this.forget(callSid, b);
  }

  private forget(callSid: string, b: Backlog): void {
    clearTimeout(b.timer);
    if (this.backlogs.get(callSid) === b) this.backlogs.delete(callSid);
  }

  private count(delta: number): void {
    this.held += delta;
    this.hooks.count(this.held);
  }
}

/** the entry with strings of its own (ownCopy), none a slice of a longer string it would keep alive */
function ownEntry(e: PreparedEntry): PreparedEntry {
  const data: PreparedEntry['data'] = {};
  for (const [k, v] of Object.entries(e.data)) data[ownCopy(k)] = typeof v === 'string' ? ownCopy(v) : v;
  return { type: ownCopy(e.type), at: e.at, data };
}
