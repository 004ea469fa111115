/**
 * The per-call audit trail (DESIGN "State"): append-only, each entry chained to the one before,
 * no personal data, kept AUDIT_RETENTION_DAYS (400 by default: PCI DSS 10.5.1 asks for 12
 * months) for assessors; it outlives the call and any erasure.
 *
 * Tamper evidence against someone who can write the store (issue 11): each entry is sealed onto
 * the one before it with AUDIT_KEY, and checked by the key its `kid` names (chain.ts).
 *
 * Storage: one key per call holding the whole JSON array, appended with `store.compareAndSet`.
 * The chain needs the previous entry's hash at the moment of appending, so the read of the tail
 * and the write of the new entry must be one atomic step: the write lands only if the trail is
 * still the one the entry was chained to. A call's trail is a few dozen small entries, so
 * rewriting the array is cheap. The first try is chained to this process's last write of the
 * trail (none for a new call), so an append is usually one round trip; a refusal carries the
 * trail as stored, and the retry chains to that. Appends from one process are queued per call
 * (no self-contention); appends from other instances that collide are retried, pausing briefly
 * after the first few refusals. An append the store fails (an outage, a timeout, Redis
 * reconnecting) is held and written again in the background, in its call's order (held.ts).
 */
import { Errors, isTonewallError } from '../errors';
import { errFields, type Logger } from '../log';
import { RecentValues, type CasRecord, type Keys, type Store, type StoreOp, type StoreRecord } from '../store';
import { type AuditEntry, type BrokenLink, GENESIS_HASH, parseEntries, sealEntry, verifyChain } from './chain';
import { AUDIT_RETRY, type AuditRetry, HeldEntries, type Pending } from './held';
import { type AuditKey, type AuditKeyRing, auditKeyRing } from './keys';
import { type AuditValue, assertNoPersonalData, AuditErrors } from './pii';

/** the default retention: 400 days, a margin over PCI DSS's 12 months */
export const AUDIT_RETENTION_DAYS = 400;
export const AUDIT_TTL_SECONDS = AUDIT_RETENTION_DAYS * 24 * 60 * 60;

/**
 * Cross-instance collisions on one call's trail are rare, and every refusal means another
 * instance's append landed; pausing only after a few refusals still absorbs bursts.
 */
const APPEND_MAX_TRIES = 30;
const APPEND_RETRIES_WITHOUT_PAUSE = 3;
const APPEND_RETRY_BASE_MS = 2;
/** trails of recent calls this process wrote last, as first guesses (a few KB each) */
const LAST_WRITTEN_MAX = 1024;

export type AuditInput = { type: string; [k: string]: AuditValue };

/** an entry checked and timed when it happened, to be chained later (AuditTrail.prepare, chain) */
export interface PreparedEntry {
  type: string;
  data: Record<string, AuditValue>;
  at: string;
}

const TYPE = /^[a-z][a-z0-9_.-]{0,63}$/;

export interface Verification {
  entries: AuditEntry[];
  verified: boolean;
  brokenAt?: BrokenLink;
}

export class AuditTrail {
  private readonly ttlSeconds: number;
  /** per-call tail of this process's pending appends */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** per call, the trail as this process last wrote it: a guess, checked by compare-and-set */
  private readonly lastWritten = new RecentValues(LAST_WRITTEN_MAX);

  /** seals with the ring's first key, verifies with the key each entry names */
  private readonly ring: AuditKeyRing;
  private readonly key: AuditKey;

  /** actors already made, by the principal they name (actor()): a principal lives for one request or socket */
  private readonly actors = new WeakMap<object, string>();
  private readonly onBroken?: (reason: BrokenLink['reason']) => void;
  private readonly onAppendFailed?: (reason: 'refused' | 'not-written') => void;

  /** entries whose append the store failed, written again in the background (held.ts) */
  private readonly held: HeldEntries;
  /** the held entries a chained write carries, by its record: no longer held once it landed (`written`) */
  private readonly carrying = new WeakMap<CasRecord, readonly Pending[]>();
  private readonly log?: Logger;

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    opts: {
      key: AuditKey | AuditKeyRing;
      ttlSeconds?: number;
      /** told of each trail a verification found broken, by the reason of its first bad link (a metric: never the entries) */
      onBroken?: (reason: BrokenLink['reason']) => void;
      /**
       * told of each entry `append` did not store (a metric: never the entry): `refused`, it could
       * carry personal data or is malformed; `not-written`, the store failed it and its retries
       * were given up (held.ts: too long, too many held, or the service stopped), or the trail is
       * unreadable. Callers log and go on, so this is what makes a gap in the trail seen (PCI DSS
       * 10.7: a failure of audit logging alerted).
       */
      onAppendFailed?: (reason: 'refused' | 'not-written') => void;
      /** the retries of appends the store failed (held.ts AUDIT_RETRY unless set) */
      retry?: Partial<AuditRetry>;
      /** told of the entries held for a retry now, over all calls, whenever it changes (a metric) */
      onHeld?: (held: number) => void;
      /** told of entries written by a retry, after their append failed (a metric) */
      onWrittenLate?: (entries: number) => void;
      /** where held, late and lost entries are logged (by call and type, never their data) */
      log?: Logger;
    },
  ) {
    this.onBroken = opts.onBroken;
    this.onAppendFailed = opts.onAppendFailed;
    const log = (this.log = opts.log);
    this.held = new HeldEntries(
      { ...AUDIT_RETRY, ...opts.retry },
      {
        write: (callSid) => this.writeHeld(callSid),
        permanent: unwritable,
        held: (callSid, type, err) =>
          log?.warn({ callSid, type, err: errFields(err) }, 'audit entry held: the store failed its append, tried again in the background'),
        written: (callSid, entries, heldForMs) => {
          opts.onWrittenLate?.(entries);
          log?.info({ callSid, entries, heldForMs }, 'audit entries written after a retry');
        },
        lost: (callSid, types, why) => {
          for (let i = 0; i < types.length; i++) this.onAppendFailed?.('not-written');
          log?.error({ callSid, entries: types.length, types, why }, 'audit entries not written: their retries were given up');
        },
        count: (held) => opts.onHeld?.(held),
      },
    );
    this.ring = auditKeyRing(opts.key);
    this.key = this.ring.primary;
    this.ttlSeconds = opts.ttlSeconds ?? AUDIT_TTL_SECONDS;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) throw AuditErrors.invalid('ttlSeconds must be a positive whole number');
  }

  /**
   * Who acted, as an entry's `actor` may name them (PCI DSS 10.2.1: each entry of a user's action
   * names the user): `<role>:<digest>`, the digest an HMAC of the token's `sub` under the sealing
   * key (AuditKey.actorDigest). The same user maps to the same actor for as long as that key
   * seals, and the trail holds no `sub` (an employee number or email would be personal data kept
   * 400 days). Made where the principal is known, and carried (never the `sub`) to the instance
   * that appends. It is also how logs, errors and events name a user (never the `sub`): made once
   * per verified token (a request's, a socket's), as the principal object is remembered here.
   */
  actor(p: { role: string; sub: string }): string {
    let made = this.actors.get(p);
    if (made === undefined) {
      made = `${p.role}:${this.key.actorDigest(p.sub)}`;
      this.actors.set(p, made);
    }
    return made;
  }

  /**
   * The digest of `sub` under each key of the ring, by kid (admin lookup, audit-routes.ts): an
   * entry names that user when its actor ends with the digest under the key its `kid` names
   * (or, made by another instance during a rotation, under another key of the ring).
   */
  actorDigests(sub: string): Record<string, string> {
    return Object.fromEntries(this.ring.kids.map((kid) => [kid, this.ring.get(kid)!.actorDigest(sub)]));
  }

  /**
   * Appends one entry. Throws (and stores nothing) if the entry could carry personal data, or the
   * stored trail is unreadable. One the store fails is held and written in the background
   * (held.ts): this resolves then, as the action it records goes on.
   */
  async append(callSid: string, entry: AuditInput): Promise<void> {
    let prepared: PreparedEntry;
    try {
      prepared = this.prepare(entry);
    } catch (err) {
      this.onAppendFailed?.('refused');
      throw err;
    }
    const prior = this.queues.get(callSid) ?? Promise.resolve();
    // the prior append's failure is its own caller's (it awaits it); this one runs after it either way
    const run = prior.catch(() => undefined).then(() => this.appendOne(callSid, prepared));
    this.queues.set(callSid, run);
    try {
      await run;
    } catch (err) {
      this.onAppendFailed?.('not-written');
      throw err;
    } finally {
      if (this.queues.get(callSid) === run) this.queues.delete(callSid);
    }
  }

  /**
   * A new trail holding its first entry, as the writes that create it (the record and its day
   * index entry), for a caller that creates it together with other new records (store.createAll:
   * a call's first webhook in one round trip). Checked as `append` checks; `opened` once written.
   * Creating the record only where none exists is what keeps the chain: a trail already there
   * is appended to, by `append`.
   */
  firstEntry(callSid: string, entry: AuditInput): { record: StoreRecord; ops: StoreOp[] } {
    const { type, data } = checked(entry);
    const at = new Date().toISOString();
    const first = sealEntry(this.key, callSid, { seq: 1, at, type, kid: this.key.kid, prev: GENESIS_HASH, ...data });
    return {
      record: { key: this.keys.audit(callSid), value: JSON.stringify([first]), ttlSeconds: this.ttlSeconds },
      ops: [{ op: 'sadd', key: this.keys.auditDay(at.slice(0, 10)), member: callSid, ttlSeconds: this.ttlSeconds }],
    };
  }

  /** the trail `firstEntry` described was written: the next append chains to it without a read */
  opened(callSid: string, record: StoreRecord): void {
    this.lastWritten.remember(callSid, record.value);
  }

  /** An entry as `append` checks it (throwing for personal data), timed now, for `chain`. */
  prepare(entry: AuditInput): PreparedEntry {
    const { type, data } = checked(entry);
    return { type, data, at: new Date().toISOString() };
  }

  /** the trail as this process last wrote it (null: none), a first guess for a caller's `chain`, checked by its compare-and-set */
  writtenTrail(callSid: string): string | null {
    const mine = this.lastWritten.guess(callSid);
    return typeof mine === 'string' ? mine : null;
  }

  /** the store key of a call's trail, for a caller that reads it with other keys (`latest`) */
  trailKey(callSid: string): string {
    return this.keys.audit(callSid);
  }

  /**
   * The trail as a caller read it, or as this process last wrote it when that is longer: a
   * trail only grows, so the longer is the newer (an append this process made since the read).
   */
  latest(callSid: string, read: string | null): string | null {
    const mine = this.lastWritten.guess(callSid);
    return read !== null && typeof mine === 'string' && mine.length > read.length ? mine : read;
  }

  /**
   * `entries` chained onto the trail `stored` (null: none yet) as a compare-and-set, for a caller
   * that makes it within its own atomic write (store.compareAndSetAll), with the day index entry
   * of a trail they begin. It lands only over `stored`, so the chain cannot fork: a refusal
   * returns the trail as it is, and the caller chains onto that again (as `append` retries).
   * Throws when the stored trail is unreadable (evidence, never overwritten). `written` once it landed.
   */
  chain(callSid: string, stored: string | null, entries: PreparedEntry[]): { record: CasRecord; ops: StoreOp[] } {
    const { record, ops } = this.chainPending(
      callSid,
      stored,
      entries.map((entry) => ({ entry })),
    );
    return { record, ops };
  }

  /**
   * `chain`, for entries that may be held should the write fail (their hashes kept, `sealedAs`).
   * The call's entries held for a retry go first, in their order: no entry of this process's is
   * written ahead of one held before it (held.ts), and the write that carries them (a webhook's)
   * is the one round trip it was.
   */
  private chainPending(
    callSid: string,
    stored: string | null,
    entries: { entry: PreparedEntry; sealedAs?: Set<string> }[],
  ): { record: CasRecord; ops: StoreOp[]; sealed: number } {
    const trail = stored === null ? [] : parseEntries(stored);
    if (!trail) throw AuditErrors.invalid('the stored trail is unreadable');
    const held = this.held.has(callSid) ? this.held.toWrite(callSid, () => new Set(trail.map((e) => e.hash))) : [];
    const pending = held.length > 0 ? [...held, ...entries] : entries;
    // the export finds trails by the days they were written to: indexed under the day the trail
    // began and under each later day it got an entry (a call past midnight, a delivery retried
    // or an erasure months on), by the write of that day's first entry (the compare-and-set makes
    // that one writer), and kept as long as the trail
    const days = new Set<string>();
    for (const { entry: e, sealedAs } of pending) {
      const last = trail[trail.length - 1];
      if (!last || (typeof last.at === 'string' ? last.at.slice(0, 10) : '') !== e.at.slice(0, 10)) days.add(e.at.slice(0, 10));
      const sealed = sealEntry(this.key, callSid, {
        seq: trail.length + 1,
        at: e.at,
        type: e.type,
        kid: this.key.kid,
        prev: last ? last.hash : GENESIS_HASH,
        ...e.data,
      });
      sealedAs?.add(sealed.hash);
      trail.push(sealed);
    }
    const ops: StoreOp[] = [...days].map((d) => ({ op: 'sadd', key: this.keys.auditDay(d), member: callSid, ttlSeconds: this.ttlSeconds }));
    const record = { key: this.keys.audit(callSid), expected: stored, next: JSON.stringify(trail), ttlSeconds: this.ttlSeconds };
    if (held.length > 0) this.carrying.set(record, held);
    return { record, ops, sealed: pending.length };
  }

  /** a trail `chain` described was written: the next append chains to it without a read */
  written(callSid: string, record: CasRecord): void {
    this.lastWritten.remember(callSid, record.next);
    const carried = this.carrying.get(record);
    if (carried) this.held.written(callSid, carried);
  }

  /** whether entries of the call are held for a retry: a write that begins its trail (firstEntry) would get ahead of them */
  holds(callSid: string): boolean {
    return this.held.has(callSid);
  }

  /**
   * At shutdown: entries held for a retry are tried once more (within `budgetMs`, when given), and
   * those not written then are counted and logged, each call's, then their number in one line.
   */
  async close(budgetMs?: number): Promise<number> {
    const lost = await this.held.close(budgetMs);
    if (lost > 0) this.log?.error({ entries: lost }, 'audit entries not written at shutdown: their last try did not write them');
    return lost;
  }

  async list(callSid: string): Promise<AuditEntry[]> {
    const raw = await this.store.get(this.keys.audit(callSid));
    return raw ? (parseEntries(raw) ?? []) : [];
  }

  /**
   * The entries, whether every link and every entry's MAC hold, and if not the first that fails.
   * `listed`: something that lives no longer than the trail names it, so the store must hold it:
   * the day index (the export), or the call's record, created with its trail (the call's audit
   * route); one it does not hold was deleted whole (`missing`), not merely never written.
   */
  async verify(callSid: string, opts: { listed?: boolean } = {}): Promise<Verification> {
    const raw = await this.store.get(this.keys.audit(callSid));
    if (raw === null && opts.listed) {
      this.onBroken?.('missing');
      return { entries: [], verified: false, brokenAt: { seq: 1, reason: 'missing' } };
    }
    if (raw === null) return { entries: [], verified: true };
    const entries = parseEntries(raw);
    if (!entries) {
      this.onBroken?.('unreadable');
      return { entries: [], verified: false, brokenAt: { seq: 1, reason: 'unreadable' } };
    }
    const brokenAt = verifyChain(this.ring, callSid, entries);
    if (brokenAt) this.onBroken?.(brokenAt.reason);
    return brokenAt ? { entries, verified: false, brokenAt } : { entries, verified: true };
  }

  /** The calls whose trails began on `day` (YYYY-MM-DD, UTC), for the export. */
  async callsOn(day: string): Promise<string[]> {
    return (await this.store.smembers(this.keys.auditDay(day))).sort();
  }

  /** one entry, written now, or held behind the call's entries held already, or when the store fails it */
  private async appendOne(callSid: string, entry: PreparedEntry): Promise<void> {
    const pending = HeldEntries.pending(entry);
    // behind entries held for a retry: written after them, by their retry (no round trip meanwhile)
    if (this.held.has(callSid)) return this.held.hold(callSid, pending, undefined);
    try {
      await this.appendWithRetry(callSid, [pending]);
    } catch (err) {
      if (unwritable(err) || this.held.closed) throw err;
      this.held.hold(callSid, pending, err);
    }
  }

  /** the call's held entries, written onto the trail (chainPending carries them); nothing when none is left */
  private writeHeld(callSid: string): Promise<void> {
    return this.appendWithRetry(callSid, []);
  }

  private async appendWithRetry(callSid: string, entries: Pending[]): Promise<void> {
    let current = this.lastWritten.guess(callSid) ?? null;
    for (let attempt = 1; attempt <= APPEND_MAX_TRIES; attempt++) {
      const { record, ops, sealed } = this.chainPending(callSid, current, entries);
      // held entries that turned out written (a try whose reply was lost) leave nothing to write
      if (sealed === 0) return;
      // the day index entry lands with the entry (one atomic step), so no trail goes unexported
      const res =
        ops.length > 0
          ? await this.store.compareAndSetAll([record], ops).then((r) => (r.ok ? r : { ok: false as const, current: r.current[0] }))
          : await this.store.compareAndSet(record.key, current, record.next, this.ttlSeconds);
      if (res.ok) {
        this.written(callSid, record);
        return;
      }
      current = res.current;
      if (attempt >= APPEND_RETRIES_WITHOUT_PAUSE) {
        await new Promise((r) => setTimeout(r, APPEND_RETRY_BASE_MS * attempt * (0.5 + Math.random())));
      }
    }
    this.lastWritten.forget(callSid);
    throw Errors.conflict({ detail: 'too many concurrent audit appends' });
  }
}

/** an append no retry mends: the stored trail is unreadable (evidence, never overwritten) */
function unwritable(err: unknown): boolean {
  return isTonewallError(err) && err.code === AuditErrors.invalid.code;
}

/** an entry's type and data, refused (nothing stored) when the type is malformed or the data could be personal */
function checked(entry: AuditInput): { type: string; data: Record<string, AuditValue> } {
  const { type, ...data } = entry;
  if (typeof type !== 'string' || !TYPE.test(type)) throw AuditErrors.invalid('type must be a short lower-case name');
  assertNoPersonalData(data);
  return { type, data };
}
