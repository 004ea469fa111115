/**
 * The embedded store: in-process maps with TTLs, an EventEmitter for pub/sub. For a single
 * instance only (the service logs this at start). Same interface and contract suite as Redis.
 */
import { EventEmitter } from 'node:events';
import type { CasRecord, MessageHandler, Store, StoreOp, StoreRecord, UpdateOptions } from './types';
import { StoreErrors } from '../errors';
import { checkJsonValue } from './json-field';

/**
 * A JSON-object record (replay memory: jsonSet, claimField) keeps its fields parsed beside its
 * text (`json`), so that a claim or a field's write does not parse the whole record again; any
 * other write of the key makes a new entry without them, and the fields never leave the store.
 */
type Entry =
  | { type: 'string'; value: string; expiresAt: number; json?: Record<string, unknown> }
  | { type: 'set'; value: Set<string>; expiresAt: number }
  | { type: 'list'; value: string[]; expiresAt: number };

const SWEEP_INTERVAL_MS = 5_000;

export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  private readonly data = new Map<string, Entry>();
  private readonly bus = new EventEmitter();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly now: () => number = Date.now) {
    this.bus.setMaxListeners(0);
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  private live(key: string): Entry | undefined {
    const e = this.data.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.data.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, e] of this.data) if (e.expiresAt <= t) this.data.delete(k);
  }

  private deadline(ttlSeconds: number): number {
    if (!(ttlSeconds > 0)) throw StoreErrors.ttlInvalid();
    return this.now() + ttlSeconds * 1000;
  }

  private check(): void {
    if (this.closed) throw StoreErrors.closed();
  }

  private typed<T extends Entry['type']>(key: string, type: T): Extract<Entry, { type: T }> | undefined {
    const e = this.live(key);
    if (e && e.type !== type) throw StoreErrors.wrongType({ detail: `WRONGTYPE key holds a ${e.type}` });
    return e as Extract<Entry, { type: T }> | undefined;
  }

  async get(key: string) {
    this.check();
    return this.typed(key, 'string')?.value ?? null;
  }

  async getMany(keys: string[]) {
    this.check();
    return keys.map((key) => this.typed(key, 'string')?.value ?? null);
  }

  async set(key: string, value: string, ttlSeconds: number) {
    this.check();
    this.apply({ op: 'set', key, value, ttlSeconds });
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number) {
    this.check();
    if (this.live(key)) return false;
    this.apply({ op: 'set', key, value, ttlSeconds });
    return true;
  }

  async createWith(key: string, value: string, ttlSeconds: number, ops: StoreOp[]) {
    this.check();
    const current = this.typed(key, 'string');
    if (current) return { created: false as const, current: current.value };
    const values = this.validate([{ ttlSeconds }], ops);
    this.apply({ op: 'set', key, value, ttlSeconds });
    this.applyAll(ops, values);
    return { created: true as const };
  }

  async createAll(records: StoreRecord[], ops: StoreOp[]) {
    this.check();
    if (records.length === 0) throw StoreErrors.recordMissing();
    if (records.some((r) => this.live(r.key))) return { created: false as const, current: records.map((r) => this.typed(r.key, 'string')?.value ?? null) };
    const values = this.validate(records, ops);
    for (const r of records) this.apply({ op: 'set', ...r });
    this.applyAll(ops, values);
    return { created: true as const };
  }

  async compareAndSet(key: string, expected: string | null, next: string, ttlSeconds: number) {
    this.check();
    this.deadline(ttlSeconds);
    const current = this.typed(key, 'string')?.value ?? null;
    if (current !== expected) return { ok: false as const, current };
    this.apply({ op: 'set', key, value: next, ttlSeconds });
    return { ok: true as const };
  }

  async compareAndSetAll(records: CasRecord[], ops: StoreOp[]) {
    this.check();
    if (records.length === 0) throw StoreErrors.recordMissing();
    const values = this.validate(records, ops);
    const current = records.map((r) => this.typed(r.key, 'string')?.value ?? null);
    if (records.some((r, i) => current[i] !== r.expected)) return { ok: false as const, current };
    for (const r of records) this.apply({ op: 'set', key: r.key, value: r.next, ttlSeconds: r.ttlSeconds });
    this.applyAll(ops, values);
    return { ok: true as const };
  }

  async claimField(key: string, field: string, value: string, ttlSeconds: number, readKeys: string[] = []) {
    this.check();
    this.deadline(ttlSeconds);
    const parsed = checkJsonValue(value);
    const record = this.jsonFields(key);
    const held = Object.hasOwn(record, field) ? JSON.stringify(record[field]) : undefined;
    if (held === undefined) this.apply({ op: 'jsonSet', key, field, value, ttlSeconds }, parsed);
    const reads = readKeys.map((k) => this.typed(k, 'string')?.value ?? null);
    return held === undefined ? { claimed: true as const, reads } : { claimed: false as const, held, reads };
  }

  async take(key: string) {
    this.check();
    const v = this.typed(key, 'string')?.value ?? null;
    this.data.delete(key);
    return v;
  }

  async deleteIfEquals(key: string, expected: string) {
    this.check();
    if (this.typed(key, 'string')?.value !== expected) return false;
    return this.data.delete(key);
  }

  async del(...keys: string[]) {
    this.check();
    let n = 0;
    for (const k of keys) if (this.live(k) && this.data.delete(k)) n++;
    return n;
  }

  async expire(key: string, ttlSeconds: number) {
    this.check();
    this.apply({ op: 'expire', key, ttlSeconds });
  }

  async ttl(key: string) {
    this.check();
    const e = this.live(key);
    if (!e) return -2;
    return Math.ceil((e.expiresAt - this.now()) / 1000);
  }

  async incr(key: string, ttlSeconds: number) {
    this.check();
    const e = this.typed(key, 'string');
    const n = (e ? Number.parseInt(e.value, 10) || 0 : 0) + 1;
    this.data.set(key, { type: 'string', value: String(n), expiresAt: e ? e.expiresAt : this.deadline(ttlSeconds) });
    return n;
  }

  /** in one process every update is atomic already: a guess is not needed, and not used */
  async update(key: string, fn: (current: string | null) => string | undefined, ttlSeconds: number, opts: UpdateOptions = {}) {
    this.check();
    const cur = this.typed(key, 'string')?.value ?? null;
    const next = fn(cur);
    if (next === undefined) return cur;
    const ops = opts.with?.(next) ?? [];
    const values = this.validate([{ ttlSeconds }], ops);
    this.apply({ op: 'set', key, value: next, ttlSeconds });
    this.applyAll(ops, values);
    return next;
  }

  async sadd(key: string, member: string, ttlSeconds: number) {
    this.check();
    this.apply({ op: 'sadd', key, member, ttlSeconds });
  }

  async srem(key: string, member: string) {
    this.check();
    this.apply({ op: 'srem', key, member });
  }

  async smembers(key: string) {
    this.check();
    return [...(this.typed(key, 'set')?.value ?? [])];
  }

  /**
   * The members after the cursor in code-unit order, `count` of them: the cursor is the last
   * member returned (after a '>' so that no member reads as the end, '0'). A member present
   * throughout is returned exactly once, whatever is added or removed between pages, and a page
   * is found in one pass over the set holding at most twice `count` members.
   */
  async sscan(key: string, cursor: string, count: number) {
    this.check();
    if (!(Number.isInteger(count) && count >= 1)) throw StoreErrors.countInvalid();
    const after = cursor === '0' ? null : cursor.slice(1);
    let page: string[] = [];
    let later = 0;
    for (const m of this.typed(key, 'set')?.value ?? []) {
      if (after !== null && m <= after) continue;
      later++;
      page.push(m);
      if (page.length >= 2 * count) page = firstInOrder(page, count);
    }
    page = firstInOrder(page, count);
    return { cursor: later > count ? `>${page[count - 1]}` : '0', members: page };
  }

  async rpush(key: string, value: string, ttlSeconds: number) {
    this.check();
    this.apply({ op: 'rpush', key, value, ttlSeconds });
    return this.typed(key, 'list')!.value.length;
  }

  async lrange(key: string, start: number, stop: number) {
    this.check();
    const list = this.typed(key, 'list')?.value ?? [];
    const end = stop < 0 ? list.length + stop + 1 : stop + 1;
    return list.slice(start < 0 ? Math.max(0, list.length + start) : start, end);
  }

  async multi(ops: StoreOp[]) {
    this.check();
    const values = this.validate([], ops);
    this.applyAll(ops, values);
  }

  /**
   * every TTL and JSON value checked before anything is written, so that a batch is all or
   * nothing; the JSON values as parsed, by the op's index (for `apply`, which need not parse them again)
   */
  private validate(records: { ttlSeconds: number }[], ops: StoreOp[]): unknown[] {
    for (const r of records) this.deadline(r.ttlSeconds);
    const values: unknown[] = [];
    for (const op of ops) {
      if ('ttlSeconds' in op) this.deadline(op.ttlSeconds);
      values.push(op.op === 'jsonSet' ? checkJsonValue(op.value) : undefined);
    }
    return values;
  }

  /** `ops` applied in order, each jsonSet with its value as validate parsed it */
  private applyAll(ops: StoreOp[], values: unknown[]): void {
    for (let i = 0; i < ops.length; i++) this.apply(ops[i]!, values[i]);
  }

  /** a JSON-object record's fields, parsed once and kept with its entry (jsonObject's reading of it) */
  private jsonFields(key: string): Record<string, unknown> {
    const e = this.typed(key, 'string');
    if (!e) return {};
    if (!e.json) {
      const record = jsonObject(e.value);
      // an unreadable record reads as none, and is not kept: a jsonSet writes it over whole
      if (record === UNREADABLE) return {};
      e.json = record;
    }
    return e.json;
  }

  /** `parsed`: a jsonSet's value as validate (or claimField) parsed it, when it did */
  private apply(op: StoreOp, parsed?: unknown): void {
    switch (op.op) {
      case 'set':
        this.data.set(op.key, { type: 'string', value: op.value, expiresAt: this.deadline(op.ttlSeconds) });
        return;
      case 'del':
        this.data.delete(op.key);
        return;
      case 'expire': {
        const e = this.live(op.key);
        if (e) e.expiresAt = this.deadline(op.ttlSeconds);
        return;
      }
      case 'sadd': {
        const e = this.typed(op.key, 'set');
        if (e) {
          e.value.add(op.member);
          e.expiresAt = Math.max(e.expiresAt, this.deadline(op.ttlSeconds));
        } else this.data.set(op.key, { type: 'set', value: new Set([op.member]), expiresAt: this.deadline(op.ttlSeconds) });
        return;
      }
      case 'srem': {
        const e = this.typed(op.key, 'set');
        if (e) {
          e.value.delete(op.member);
          if (e.value.size === 0) this.data.delete(op.key);
        }
        return;
      }
      case 'rpush': {
        const e = this.typed(op.key, 'list');
        if (e) {
          e.value.push(op.value);
          e.expiresAt = Math.max(e.expiresAt, this.deadline(op.ttlSeconds));
        } else this.data.set(op.key, { type: 'list', value: [op.value], expiresAt: this.deadline(op.ttlSeconds) });
        return;
      }
      case 'jsonSet': {
        const record = this.jsonFields(op.key);
        record[op.field] = parsed === undefined ? JSON.parse(op.value) : parsed;
        this.data.set(op.key, { type: 'string', value: JSON.stringify(record), expiresAt: this.deadline(op.ttlSeconds), json: record });
        return;
      }
      case 'jsonDel': {
        const record = this.jsonFields(op.key);
        const e = this.typed(op.key, 'string');
        if (e && Object.hasOwn(record, op.field)) {
          delete record[op.field];
          e.value = JSON.stringify(record);
        }
        return;
      }
    }
  }

  async publish(channel: string, message: string) {
    this.check();
    // asynchronous like Redis: a publisher never runs its subscribers on its own stack
    setImmediate(() => this.bus.emit(channel, message));
  }

  async subscribe(channel: string, handler: MessageHandler) {
    this.check();
    this.bus.on(channel, handler);
    return async () => {
      this.bus.off(channel, handler);
    };
  }

  async ping() {
    this.check();
  }

  /** every live key, for tests and the privacy scan */
  keys(): string[] {
    this.sweep();
    return [...this.data.keys()];
  }

  async close() {
    this.closed = true;
    clearInterval(this.sweeper);
    this.bus.removeAllListeners();
  }
}

/** the first `count` of `members` in code-unit order (as `<` compares strings) */
function firstInOrder(members: string[], count: number): string[] {
  return members.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, count);
}

/** a record that is not a JSON object, read as one with no fields (as Redis's scripts take it) */
const UNREADABLE: Record<string, unknown> = Object.freeze({});

/** a JSON-object record's fields; unreadable or not an object: UNREADABLE */
function jsonObject(raw: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(raw);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : UNREADABLE;
  } catch {
    return UNREADABLE;
  }
}
