/**
 * The one state interface the service uses. Two implementations pass one contract suite
 * (the store contract tests, contract.test.ts): Redis for any number of instances, embedded for one.
 * Values are strings; callers serialise. Every write carries a TTL: nothing lives forever.
 */
export type StoreOp =
  | { op: 'set'; key: string; value: string; ttlSeconds: number }
  | { op: 'del'; key: string }
  | { op: 'sadd'; key: string; member: string; ttlSeconds: number }
  | { op: 'srem'; key: string; member: string }
  | { op: 'rpush'; key: string; value: string; ttlSeconds: number }
  | { op: 'expire'; key: string; ttlSeconds: number }
  /**
   * One field of a JSON-object record set to `value` (JSON text), the record's TTL refreshed;
   * an absent or unreadable record is taken as an empty object. Redis reads and writes the
   * record with Lua's cjson, which refuses the escape of a lone surrogate (`"\ud800"`): values
   * must be well-formed text. Keeps a record that several writers add to free of lost updates.
   */
  | { op: 'jsonSet'; key: string; field: string; value: string; ttlSeconds: number }
  /** one field of a JSON-object record removed; the record keeps its TTL (nothing when absent) */
  | { op: 'jsonDel'; key: string; field: string };

/** a compare-and-set of one string record: `next` written only while `key` holds `expected` (null: absent) */
export interface CasRecord {
  key: string;
  expected: string | null;
  next: string;
  ttlSeconds: number;
}

/** a string record a write creates: its key, value and TTL */
export interface StoreRecord {
  key: string;
  value: string;
  ttlSeconds: number;
}

/** Store.update's options */
export interface UpdateOptions {
  guess?: string | null;
  with?: (next: string) => StoreOp[];
}

export type MessageHandler = (message: string) => void;

export interface Store {
  readonly kind: 'redis' | 'embedded';
  get(key: string): Promise<string | null>;
  /** GET of several keys in one round trip (MGET), in the order asked; a key absent is null */
  getMany(keys: string[]): Promise<(string | null)[]>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** SET NX: true when this call created the key (single-use tokens, first-accept-wins, replay guards) */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /**
   * SET NX of a new record together with the writes that belong to it (its index entries, its
   * encrypted fields): `ops` are applied only if this call created `key`, in the same atomic
   * step, so a retried creation writes nothing. Otherwise returns the value already there.
   */
  createWith(key: string, value: string, ttlSeconds: number, ops: StoreOp[]): Promise<{ created: true } | { created: false; current: string }>;
  /**
   * createWith for several new records at once: all of them and `ops` in one atomic step, or,
   * if any of the keys exists, nothing at all; the refusal returns what each key holds (null:
   * absent), in the order of `records`.
   */
  createAll(records: StoreRecord[], ops: StoreOp[]): Promise<{ created: true } | { created: false; current: (string | null)[] }>;
  /**
   * Compare-and-set: writes `next` only if `key` still holds `expected` (null: absent). A
   * refusal returns what the key holds now, so the caller can retry without another read.
   */
  compareAndSet(key: string, expected: string | null, next: string, ttlSeconds: number): Promise<{ ok: true } | { ok: false; current: string | null }>;
  /**
   * compareAndSet over several records together with the writes that belong to them: when every
   * record still holds its `expected` value, each gets its `next` and `ops` are applied, in one
   * atomic step; otherwise nothing is written and the refusal returns what each record holds,
   * in the order of `records`, so the caller can retry without another read.
   */
  compareAndSetAll(records: CasRecord[], ops: StoreOp[]): Promise<{ ok: true } | { ok: false; current: (string | null)[] }>;
  /**
   * The first claim on one field of a JSON-object record, and a read of related keys, in one
   * atomic step: a field not yet in the record (absent or unreadable: an empty object) is set to
   * `value` (JSON text, well-formed as for jsonSet) and the record's TTL refreshed; a field
   * already there is left as it is and returned (`held`, JSON text). Either way `reads` holds
   * what each of `readKeys` held at that moment (null: absent).
   */
  claimField(
    key: string,
    field: string,
    value: string,
    ttlSeconds: number,
    readKeys?: string[],
  ): Promise<{ claimed: true; reads: (string | null)[] } | { claimed: false; held: string; reads: (string | null)[] }>;
  /** GET and DEL in one atomic step: a single-use token can be taken once */
  take(key: string): Promise<string | null>;
  /**
   * DEL of `key` only while it holds `expected`, compared and deleted in one atomic step: true
   * when this call deleted it. A lock released by its holder: one that expired and was taken by
   * another meanwhile is left to the one that took it.
   */
  deleteIfEquals(key: string, expected: string): Promise<boolean>;
  del(...keys: string[]): Promise<number>;
  expire(key: string, ttlSeconds: number): Promise<void>;
  /** seconds left; -2 absent, -1 no TTL (which the contract suite proves never happens) */
  ttl(key: string): Promise<number>;
  incr(key: string, ttlSeconds: number): Promise<number>;
  /**
   * Read-modify-write of one key, atomic against every other writer (compare-and-set in Redis).
   * `fn` gets the current value (null if absent) and returns the new value, or undefined to leave
   * it; the result is the value the key holds after. `guess`: what the caller believes the key
   * holds (store/recent.ts), tried first without a read; a wrong guess costs one retry, and a
   * guess that would leave the key as it is is checked by a read before it is believed.
   * `with`: writes that belong to the value written (its index entries), applied with it in the
   * same atomic step, asked for once `fn` has returned it; nothing when `fn` leaves the key.
   */
  update(key: string, fn: (current: string | null) => string | undefined, ttlSeconds: number, opts?: UpdateOptions): Promise<string | null>;
  sadd(key: string, member: string, ttlSeconds: number): Promise<void>;
  srem(key: string, member: string): Promise<void>;
  smembers(key: string): Promise<string[]>;
  /**
   * One page of a set's members, for a reader that must not hold a large set at once (SSCAN).
   * `cursor`: '0' to begin, then the one the last page returned; a returned '0' means the set
   * has been read through. Like SSCAN, a page holds about `count` members (Redis returns a small
   * set, one it keeps compact, whole, in one page), a member present throughout the reading
   * is returned at least once (Redis may return one twice), and one added or removed meanwhile
   * may be returned or not. A page may be empty before the end.
   */
  sscan(key: string, cursor: string, count: number): Promise<{ cursor: string; members: string[] }>;
  rpush(key: string, value: string, ttlSeconds: number): Promise<number>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  /** writes that belong together, applied all or nothing */
  multi(ops: StoreOp[]): Promise<void>;
  publish(channel: string, message: string): Promise<void>;
  /** resolves once the subscription is live; returns the unsubscribe function */
  subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
