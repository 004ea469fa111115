/**
 * The embedded store: in-process maps with TTLs, an EventEmitter for pub/sub. For a single
 * instance only (the service logs this at start). Same interface and contract suite as Redis.
 */
import { EventEmitter } from 'node:events';
import type { CasRecord, MessageHandler, Store, StoreOp, StoreRecord, UpdateOptions } from './types';
import { StoreErrors } from '../errors';
import { checkJsonValue } from './json-field';

type Entry =
  | { type: 'string'; value: string; expiresAt: number }
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
    this.validate([{ ttlSeconds }], ops);
    this.apply({ op: 'set', key, value, ttlSeconds });
    for (const op of ops) this.apply(op);
    return { created: true as const };
  }

  async createAll(records: StoreRecord[], ops: StoreOp[]) {
    this.check();
    if (records.length === 0) throw StoreErrors.recordMissing();
    if (records.some((r) => this.live(r.key))) return { created: false as const, current: records.map((r) => this.typed(r.key, 'string')?.value ?? null) };
    this.validate(records, ops);
    for (const r of records) this.apply({ op: 'set', ...r });
    for (const op of ops) this.apply(op);
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
    this.validate(records, ops);
    const current = records.map((r) => this.typed(r.key, 'string')?.value ?? null);
    if (records.some((r, i) => current[i] !== r.expected)) return { ok: false as const, current };
    for (const r of records) this.apply({ op: 'set', key: r.key, value: r.next, ttlSeconds: r.ttlSeconds });
    for (const op of ops) this.apply(op);
    return { ok: true as const };
  }

  async claimField(key: string, field: string, value: string, ttlSeconds: number, readKeys: string[] = []) {
    this.check();
    this.deadline(ttlSeconds);
    checkJsonValue(value);
    const record = jsonObject(this.typed(key, 'string')?.value ?? null);
    const held = Object.hasOwn(record, field) ? JSON.stringify(record[field]) : undefined;
    if (held === undefined) this.apply({ op: 'jsonSet', key, field, value, ttlSeconds });
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
    this.validate([{ ttlSeconds }], ops);
    this.apply({ op: 'set', key, value: next, ttlSeconds });
    for (const op of ops) this.apply(op);
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
    this.validate([], ops);
    for (const op of ops) this.apply(op);
  }

  /** every TTL and JSON value checked before anything is written, so that a batch is all or nothing */
  private validate(records: { ttlSeconds: number }[], ops: StoreOp[]): void {
    for (const r of records) this.deadline(r.ttlSeconds);
    for (const op of ops) {
      if ('ttlSeconds' in op) this.deadline(op.ttlSeconds);
      if (op.op === 'jsonSet') checkJsonValue(op.value);
    }
  }

  private apply(op: StoreOp): void {
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
        const record = jsonObject(this.typed(op.key, 'string')?.value ?? null);
        record[op.field] = JSON.parse(op.value);
        this.data.set(op.key, { type: 'string', value: JSON.stringify(record), expiresAt: this.deadline(op.ttlSeconds) });
        return;
      }
      case 'jsonDel': {
        const e = this.typed(op.key, 'string');
        const record = jsonObject(e?.value ?? null);
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

/** a JSON-object record's fields; absent, unreadable or not an object: none (as Redis's scripts take it) */
function jsonObject(raw: string | null): Record<string, unknown> {
  if (raw === null) return {};
  try {
    const v: unknown = JSON.parse(raw);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
