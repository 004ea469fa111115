/**
 * Call sessions in the store: one JSON record per call, an index of live calls and a subject
 * index (by HMAC of the caller's number) written together in one atomic step, each with a TTL.
 * Every write of a record renews its subject index entry in the same step, to the longest any of
 * the call's keys lives (callDataTtlSeconds: the record's TTL, or VAULT_TTL_SECONDS when that is
 * longer; an index's TTL only grows), so the index outlives the record, the vault values, the
 * sealed caller and the delivery records it leads to: access and erasure find every one. A
 * delivery try, which may write after the record's last write, renews it too (`subjectIndexOps`).
 * With ERASE_RECORDINGS the entry lives as long as the call's audit trail instead (`linkTtlSeconds`):
 * the trail names the call's recordings at Twilio, which an erasure months later must still find.
 */
import type { CasRecord, Keys, Store, StoreOp, StoreRecord } from '../store';
import { CALL_TTL_SECONDS, callDataTtlSeconds, ENDED_CALL_TTL_SECONDS, type CallSession } from './session';

export class CallRepository {
  /**
   * The stored JSON each session object was read from: an update based on a session this
   * process read goes straight to compare-and-set with it (store.update's guess), with no
   * second read; if the record changed meanwhile, the compare-and-set says so and it is retried.
   */
  private readonly readFrom = new WeakMap<CallSession, string>();

  /** how long a subject index entry lives past each write that renews it (callDataTtlSeconds) */
  readonly subjectTtlSeconds: number;

  /**
   * `vaultTtlSeconds`: VAULT_TTL_SECONDS, how long the call's vault values live. `linkTtlSeconds`:
   * set with ERASE_RECORDINGS, AUDIT_RETENTION_DAYS in seconds: the caller's link to the call is
   * kept as long as the trail that names its recordings at Twilio, which live there until deleted,
   * so an erasure asked for long after the call still finds and deletes them (privacy/erase-call.ts).
   * Unset, the index lives no longer than what else the call left in the store.
   */
  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    opts: { vaultTtlSeconds: number; linkTtlSeconds?: number },
  ) {
    this.subjectTtlSeconds = Math.max(callDataTtlSeconds(opts.vaultTtlSeconds), opts.linkTtlSeconds ?? 0);
  }

  async get(callSid: string): Promise<CallSession | null> {
    const raw = await this.store.get(this.keys.call(callSid));
    return raw ? this.parsed(raw) : null;
  }

  /**
   * Creates the record and its index entries unless it exists (a retried first webhook), then
   * returns the stored one. `also`: writes that belong to the new record (its vault envelopes),
   * made with it or not at all.
   */
  async create(session: CallSession, also: StoreOp[] = []): Promise<{ session: CallSession; created: boolean }> {
    const { record, ops } = this.creation(session, also);
    const res = await this.store.createWith(record.key, record.value, record.ttlSeconds, ops);
    if (!res.created) return { session: this.parsed(res.current), created: false };
    this.created(session, record);
    return { session, created: true };
  }

  /**
   * What `create` writes, for a caller that creates the record together with other new records
   * (store.createAll: a call's first webhook in one round trip); `created` once it was written.
   */
  creation(session: CallSession, also: StoreOp[] = []): { record: StoreRecord; ops: StoreOp[] } {
    return {
      record: { key: this.keys.call(session.callSid), value: JSON.stringify(session), ttlSeconds: CALL_TTL_SECONDS },
      ops: [{ op: 'sadd', key: this.keys.callIndex(), member: session.callSid, ttlSeconds: CALL_TTL_SECONDS }, ...this.subjectIndexOps(session), ...also],
    };
  }

  created(session: CallSession, record: StoreRecord): void {
    this.readFrom.set(session, record.value);
  }

  async save(session: CallSession): Promise<void> {
    session.updatedAt = Date.now();
    const ttlSeconds = this.ttlFor(session);
    await this.store.multi([{ op: 'set', key: this.keys.call(session.callSid), value: JSON.stringify(session), ttlSeconds }, ...this.subjectIndexOps(session)]);
  }

  /**
   * The call's subject index entry, its TTL renewed to `subjectTtlSeconds` (never shortened): with
   * every write of the record (set once at creation, it expired under a long call whose record
   * every write kept), and with each write of a delivery try, which may come after the record's
   * last write (processors/delivery.ts). None for a call whose caller withheld their number (it
   * has no subject).
   */
  subjectIndexOps(session: Pick<CallSession, 'callSid' | 'subject'>): StoreOp[] {
    return session.subject ? [{ op: 'sadd', key: this.keys.subject(session.subject), member: session.callSid, ttlSeconds: this.subjectTtlSeconds }] : [];
  }

  /** the store key of a call's record, for a caller that reads it with other keys (`fromStored`) */
  recordKey(callSid: string): string {
    return this.keys.call(callSid);
  }

  /** a session as a caller read it with other keys (a webhook's replay claim), known as read from `raw` like one `get` returned */
  fromStored(raw: string): CallSession {
    return this.parsed(raw);
  }

  /**
   * What `update` writes when its change turned the stored record `raw` into `changed`
   * (undefined: left as it is), for a caller that makes it within its own atomic write
   * (store.compareAndSetAll): the compare-and-set over `raw` with its subject index entry's TTL
   * renewed, and an ended call's shorter TTL (which `update` sets after its write, changed or not).
   */
  writeOf(raw: string, stored: CallSession, changed: CallSession | undefined): { record?: CasRecord; ops: StoreOp[] } {
    const key = this.keys.call(stored.callSid);
    if (!changed) return { ops: stored.state === 'ended' ? [{ op: 'expire', key, ttlSeconds: ENDED_CALL_TTL_SECONDS }] : [] };
    changed.updatedAt = Date.now();
    const ttlSeconds = this.ttlFor(changed);
    return { record: { key, expected: raw, next: JSON.stringify(changed), ttlSeconds }, ops: this.subjectIndexOps(changed) };
  }

  private parsed(raw: string): CallSession {
    const s = JSON.parse(raw) as CallSession;
    this.readFrom.set(s, raw);
    return s;
  }

  /**
   * Atomic read-modify-write; `fn` returns false to leave the record as it is. `basis`: a
   * session this repository returned, whose stored form is taken as the likely current value.
   */
  async update(callSid: string, fn: (s: CallSession) => void | false, opts: { basis?: CallSession } = {}): Promise<CallSession | null> {
    let result: CallSession | null = null;
    await this.store.update(
      this.keys.call(callSid),
      (raw) => {
        if (!raw) {
          result = null;
          return undefined;
        }
        const s = JSON.parse(raw) as CallSession;
        if (fn(s) === false) {
          result = s;
          return undefined;
        }
        s.updatedAt = Date.now();
        result = s;
        return JSON.stringify(s);
      },
      CALL_TTL_SECONDS,
      {
        ...(opts.basis && this.readFrom.has(opts.basis) ? { guess: this.readFrom.get(opts.basis) } : {}),
        // `result` is the session `fn` just turned into the value written
        with: () => this.subjectIndexOps(result!),
      },
    );
    const s = result as CallSession | null;
    if (s && s.state === 'ended') await this.store.expire(this.keys.call(callSid), ENDED_CALL_TTL_SECONDS);
    return s;
  }

  private ttlFor(s: CallSession): number {
    return s.state === 'ended' ? ENDED_CALL_TTL_SECONDS : CALL_TTL_SECONDS;
  }

  async listSids(): Promise<string[]> {
    return this.store.smembers(this.keys.callIndex());
  }

  async list(): Promise<CallSession[]> {
    return this.read(await this.listSids());
  }

  /**
   * The live calls a page at a time, at most `pageSize` records to a page (the index read with
   * SSCAN, never whole), for a reader of every call that must not hold them all (calls/sweep.ts):
   * the next page is read once the caller asks for it. A call may come twice (SSCAN's word: at
   * least once); one created or ended meanwhile may come or not.
   */
  async *pages(pageSize: number): AsyncGenerator<CallSession[]> {
    let cursor = '0';
    do {
      const page = await this.store.sscan(this.keys.callIndex(), cursor, pageSize);
      cursor = page.cursor;
      // Redis returns a small set whole, whatever the count
      for (let i = 0; i < page.members.length; i += pageSize) {
        const sessions = await this.read(page.members.slice(i, i + pageSize));
        if (sessions.length > 0) yield sessions;
      }
    } while (cursor !== '0');
  }

  /** the records of `sids`; an index entry whose record has expired is removed */
  private async read(sids: string[]): Promise<CallSession[]> {
    // issued together so Redis auto-pipelining sends them in one round trip, not one per call
    const sessions = await Promise.all(sids.map((sid) => this.get(sid)));
    const stale = sids.filter((_, i) => sessions[i] === null);
    if (stale.length > 0) await this.store.multi(stale.map((member) => ({ op: 'srem' as const, key: this.keys.callIndex(), member })));
    return sessions.filter((s): s is CallSession => s !== null);
  }

  /**
   * `list()` for many readers at once: every agent panel re-reads the call list on the same
   * event, and each reader would otherwise load every live call. A reader joins the next load to
   * start, never one already under way, so what it gets was read after it asked (the change its
   * event announced included); at most one load runs and one waits, however many readers.
   */
  listFresh(): Promise<CallSession[]> {
    if (!this.listing) return this.startListing();
    this.nextListing ??= this.listing.then(
      () => this.afterListing(),
      () => this.afterListing(),
    );
    return this.nextListing;
  }

  private listing: Promise<CallSession[]> | null = null;
  private nextListing: Promise<CallSession[]> | null = null;

  private afterListing(): Promise<CallSession[]> {
    this.nextListing = null;
    return this.startListing();
  }

  private startListing(): Promise<CallSession[]> {
    const listing: Promise<CallSession[]> = this.list().finally(() => {
      if (this.listing === listing) this.listing = null;
    });
    this.listing = listing;
    return listing;
  }

  async sidsForSubject(subject: string): Promise<string[]> {
    return this.store.smembers(this.keys.subject(subject));
  }

  /** removes the record and its index entries (erasure) */
  async remove(session: Pick<CallSession, 'callSid' | 'subject'>): Promise<void> {
    await this.store.multi([
      { op: 'del', key: this.keys.call(session.callSid) },
      { op: 'srem', key: this.keys.callIndex(), member: session.callSid },
      ...(session.subject ? [{ op: 'srem' as const, key: this.keys.subject(session.subject), member: session.callSid }] : []),
    ]);
  }
}
