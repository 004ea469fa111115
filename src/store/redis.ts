/**
 * The Redis store (ioredis). Commands fail fast when Redis is unreachable (no offline queue,
 * a short command timeout) so a webhook can answer safe TwiML within a second instead of
 * hanging; the error is thrown, never swallowed, and the edge decides what the caller hears.
 * Pub/sub uses its own connection, as Redis requires (redis-subscriber.ts).
 */
import Redis, { ReplyError } from 'ioredis';
import { ConfigError, Errors, isTonewallError, StoreErrors } from '../errors';
import {
  CLAIM_FIELD_LUA,
  COMPARE_AND_SET_ALL_LUA,
  COMPARE_AND_SET_LUA,
  CREATE_ALL_LUA,
  CREATE_WITH_LUA,
  DELETE_IF_EQUALS_LUA,
  MULTI_LUA,
  encodeOps,
  validTtl,
} from './scripts';
import { checkJsonValue } from './json-field';
import { answeredWithin, COMMAND_TIMEOUT_MS, connection } from './redis-connection';
import { RedisSubscriber } from './redis-subscriber';
import type { CasRecord, MessageHandler, Store, StoreOp, StoreRecord, UpdateOptions } from './types';

const UPDATE_MAX_ATTEMPTS = 20;

type ScriptReply = [0 | 1, string?];

/** the scripts of ./scripts, as ioredis exposes them after defineCommand */
interface Scripts {
  twMulti(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  twCreateWith(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<ScriptReply>;
  twCreateAll(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<[0 | 1, ...(string | null)[]]>;
  twCompareAndSet(key: string, hasExpected: '0' | '1', expected: string, next: string, ttlSeconds: number): Promise<ScriptReply>;
  twCompareAndSetAll(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<[0 | 1, ...(string | null)[]]>;
  twClaimField(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<[0 | 1, string | null, ...(string | null)[]]>;
  twDeleteIfEquals(key: string, expected: string): Promise<0 | 1>;
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly client: Redis;
  private readonly scripts: Scripts;
  private readonly pubsub: RedisSubscriber;

  /** `reply` within this store's command bound (answeredWithin) */
  private readonly answered: <T>(reply: Promise<T>) => Promise<T>;

  /**
   * `commandTimeoutMs`: how long Redis has to answer a command, COMMAND_TIMEOUT_MS (500 ms) unless
   * a caller that knows its host better says otherwise (a test whose own load is the point).
   */
  constructor(
    private readonly url: string,
    opts: { commandTimeoutMs?: number } = {},
  ) {
    const timeoutMs = opts.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    this.answered = (reply) => answeredWithin(reply, timeoutMs);
    // commands issued in one tick (by concurrent webhooks) leave in one socket write: a write
    // per command was a fifth of the service's CPU under load
    this.client = connection(url, { autoPipelining: true });
    this.pubsub = new RedisSubscriber(url, (fn) => this.run(fn), this.answered);
    this.client.on('error', (e: Error) => {
      /* surfaced through failing commands and /readyz; an unhandled 'error' would crash */
      this.lastError = e;
    });
    // an error the connection made before is not why a later one fails (outage)
    this.client.on('ready', () => (this.lastError = undefined));
    this.client.defineCommand('twMulti', { lua: MULTI_LUA });
    this.client.defineCommand('twCreateWith', { lua: CREATE_WITH_LUA });
    this.client.defineCommand('twCreateAll', { lua: CREATE_ALL_LUA });
    this.client.defineCommand('twCompareAndSet', { numberOfKeys: 1, lua: COMPARE_AND_SET_LUA });
    this.client.defineCommand('twCompareAndSetAll', { lua: COMPARE_AND_SET_ALL_LUA });
    this.client.defineCommand('twClaimField', { lua: CLAIM_FIELD_LUA });
    this.client.defineCommand('twDeleteIfEquals', { numberOfKeys: 1, lua: DELETE_IF_EQUALS_LUA });
    this.scripts = this.client as unknown as Scripts;
  }

  /** the client's last error: what a failed connect() was (its own rejection says only "Connection is closed.") */
  private lastError?: Error;

  /**
   * The first connection, at start. Refused, unreachable or unauthenticated: a ConfigError naming
   * REDIS_URL, where it points (host and port, never the password) and Redis's or the socket's
   * reason, and the client stopped so it retries no more.
   */
  async connect(): Promise<void> {
    try {
      await this.client.connect();
    } catch (e) {
      this.client.disconnect();
      const u = new URL(this.url);
      const password = decodeURIComponent(u.password);
      let cause = (this.lastError ?? (e as Error)).message.replace(/\s+/g, ' ');
      // no reply of Redis's or the socket's holds it; never let one that did carry it out
      if (password) cause = cause.split(password).join('***');
      cause = cause.slice(0, 120);
      const code = (this.lastError as { code?: string } | undefined)?.code ?? '';
      // Node trusts the system's CAs only: a Redis with a private CA's certificate is trusted once NODE_EXTRA_CA_CERTS names that CA's file
      const check =
        /certificate/i.test(cause) || /^(ERR_TLS|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(code)
          ? 'its TLS certificate is not trusted: set NODE_EXTRA_CA_CERTS to the PEM file of the CA that signed it (and the certificate must name the host)'
          : 'check that it runs there, the password (redis://:password@host:port, percent-encoded), and rediss:// for TLS';
      throw new ConfigError('REDIS_URL', `REDIS_URL: Redis at ${u.host || 'localhost'} cannot be used at start (${cause}): ${check}`);
    }
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      // a command Redis refused, or our own coded error (an update conflict), is not an outage
      if (isTonewallError(cause) || (cause instanceof Error && /WRONGTYPE|ERR /.test(cause.message))) throw cause;
      // the client's own words (a closed connection, a refused write), which hold no key or value, say which outage it is
      throw StoreErrors.unavailable({ cause, detail: this.outage(cause) });
    }
  }

  /**
   * Which outage it is, for the error and /readyz. A command sent while the client reconnects is
   * refused with its own words ("Stream isn't writeable"), which hide why it reconnects: the
   * connection's last error says it (a password changed under a running service answers every
   * reconnection WRONGPASS). Fixed words for the causes an operator acts on; no reply holds the password.
   */
  private outage(cause: unknown): string | undefined {
    const own = cause instanceof Error ? cause.message : undefined;
    const reconnecting = this.client.status !== 'ready' && this.lastError !== undefined;
    const why = reconnecting ? this.lastError! : cause;
    const text = why instanceof Error ? why.message : '';
    const code = (why as { code?: string } | undefined)?.code ?? '';
    // Redis 6 and later say WRONGPASS or NOAUTH; older ones `ERR invalid password`
    if (/^(WRONGPASS|NOAUTH)|invalid password/i.test(text)) {
      return `authentication refused (${/^(WRONGPASS|NOAUTH)/.exec(text)?.[1] ?? 'invalid password'}): check the password in REDIS_URL`;
    }
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection lost';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
    if (/certificate/i.test(text) || /^(ERR_TLS|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(code)) return 'TLS certificate not trusted';
    return own?.slice(0, 80);
  }

  get(key: string) {
    return this.run(() => this.answered(this.client.get(key)));
  }

  getMany(keys: string[]) {
    if (keys.length === 0) return Promise.resolve([]);
    return this.run(() => this.answered(this.client.mget(...keys)));
  }

  async set(key: string, value: string, ttlSeconds: number) {
    await this.run(() => this.answered(this.client.set(key, value, 'EX', ttlSeconds)));
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number) {
    return (await this.run(() => this.answered(this.client.set(key, value, 'EX', ttlSeconds, 'NX')))) === 'OK';
  }

  async createWith(key: string, value: string, ttlSeconds: number, ops: StoreOp[]) {
    return this.run(async () => {
      if (!validTtl(ttlSeconds)) throw StoreErrors.ttlInvalid();
      const { keys, args } = encodeOps(ops);
      const [created, current] = await this.answered(this.scripts.twCreateWith(1 + keys.length, key, ...keys, value, ttlSeconds, ...args));
      return created === 1 ? { created: true as const } : { created: false as const, current: current ?? '' };
    });
  }

  async createAll(records: StoreRecord[], ops: StoreOp[]) {
    return this.run(async () => {
      const { done, current } = await this.overRecords(
        (n, ...a) => this.answered(this.scripts.twCreateAll(n, ...a)),
        records,
        (r) => [r.value, r.ttlSeconds],
        ops,
      );
      return done ? { created: true as const } : { created: false as const, current };
    });
  }

  async compareAndSet(key: string, expected: string | null, next: string, ttlSeconds: number) {
    return this.run(() => this.cas(key, expected, next, ttlSeconds));
  }

  private async cas(key: string, expected: string | null, next: string, ttlSeconds: number): Promise<{ ok: true } | { ok: false; current: string | null }> {
    if (!validTtl(ttlSeconds)) throw StoreErrors.ttlInvalid();
    const [ok, current] = await this.answered(this.scripts.twCompareAndSet(key, expected === null ? '0' : '1', expected ?? '', next, ttlSeconds));
    return ok === 1 ? { ok: true } : { ok: false, current: current ?? null };
  }

  async compareAndSetAll(records: CasRecord[], ops: StoreOp[]) {
    return this.run(() => this.casAll(records, ops));
  }

  /** `cas` with writes of its own, in the same script */
  private async casWith(
    key: string,
    expected: string | null,
    next: string,
    ttlSeconds: number,
    ops: StoreOp[],
  ): Promise<{ ok: true } | { ok: false; current: string | null }> {
    const res = await this.casAll([{ key, expected, next, ttlSeconds }], ops);
    return res.ok ? res : { ok: false, current: res.current[0] };
  }

  private async casAll(records: CasRecord[], ops: StoreOp[]): Promise<{ ok: true } | { ok: false; current: (string | null)[] }> {
    const { done, current } = await this.overRecords(
      (n, ...a) => this.answered(this.scripts.twCompareAndSetAll(n, ...a)),
      records,
      (r) => [r.expected === null ? '0' : '1', r.expected ?? '', r.next, r.ttlSeconds],
      ops,
    );
    return done ? { ok: true } : { ok: false, current };
  }

  /**
   * A script over whole records and ops in one call (createAll, compareAndSetAll): KEYS are the
   * records' then the ops', ARGV the record count, each record's arguments, then the ops'. Its
   * reply: whether it wrote, and when it did not, each record's current value.
   */
  private async overRecords<R extends { key: string; ttlSeconds: number }>(
    script: (numKeys: number, ...keysAndArgs: (string | number)[]) => Promise<[0 | 1, ...(string | null)[]]>,
    records: R[],
    argsOf: (r: R) => (string | number)[],
    ops: StoreOp[],
  ): Promise<{ done: boolean; current: (string | null)[] }> {
    if (records.length === 0) throw StoreErrors.recordMissing();
    if (!records.every((r) => validTtl(r.ttlSeconds))) throw StoreErrors.ttlInvalid();
    const { keys, args } = encodeOps(ops);
    const values: (string | number)[] = [];
    for (const r of records) values.push(...argsOf(r));
    const [flag, ...current] = await script(records.length + keys.length, ...records.map((r) => r.key), ...keys, records.length, ...values, ...args);
    return { done: flag === 1, current: records.map((_, i) => current[i] ?? null) };
  }

  async claimField(key: string, field: string, value: string, ttlSeconds: number, readKeys: string[] = []) {
    return this.run(async () => {
      if (!validTtl(ttlSeconds)) throw StoreErrors.ttlInvalid();
      checkJsonValue(value);
      const [claimed, held, ...read] = await this.answered(this.scripts.twClaimField(1 + readKeys.length, key, ...readKeys, field, value, ttlSeconds));
      const reads = readKeys.map((_, i) => read[i] ?? null);
      return claimed === 1 ? { claimed: true as const, reads } : { claimed: false as const, held: held ?? 'null', reads };
    });
  }

  take(key: string) {
    return this.run(() => this.answered(this.client.getdel(key)));
  }

  async deleteIfEquals(key: string, expected: string) {
    return (await this.run(() => this.answered(this.scripts.twDeleteIfEquals(key, expected)))) === 1;
  }

  del(...keys: string[]) {
    if (keys.length === 0) return Promise.resolve(0);
    return this.run(() => this.answered(this.client.del(...keys)));
  }

  async expire(key: string, ttlSeconds: number) {
    await this.run(() => this.answered(this.client.expire(key, ttlSeconds)));
  }

  ttl(key: string) {
    return this.run(() => this.answered(this.client.ttl(key)));
  }

  async incr(key: string, ttlSeconds: number) {
    const res = await this.run(() => this.answered(this.client.multi().incr(key).expire(key, ttlSeconds, 'NX').exec()));
    return Number(res?.[0]?.[1]);
  }

  async update(key: string, fn: (current: string | null) => string | undefined, ttlSeconds: number, opts: UpdateOptions = {}) {
    // optimistic concurrency: GET (or the caller's guess), then compare-and-set; a refusal
    // carries the value that won, so a retry needs no second read
    return this.run(async () => {
      let guessed = opts.guess !== undefined;
      let cur = guessed ? (opts.guess as string | null) : await this.answered(this.client.get(key));
      for (let attempt = 0; attempt < UPDATE_MAX_ATTEMPTS; attempt++) {
        const next = fn(cur);
        if (next === undefined) {
          // "nothing to write" must be true of what the key holds, not of a guess
          if (!guessed) return cur;
          guessed = false;
          cur = await this.answered(this.client.get(key));
          continue;
        }
        guessed = false;
        const ops = opts.with?.(next) ?? [];
        const res = ops.length === 0 ? await this.cas(key, cur, next, ttlSeconds) : await this.casWith(key, cur, next, ttlSeconds, ops);
        if (res.ok) return next;
        cur = res.current;
      }
      throw Errors.conflict({ detail: 'too many concurrent updates' });
    });
  }

  async sadd(key: string, member: string, ttlSeconds: number) {
    await this.multi([{ op: 'sadd', key, member, ttlSeconds }]);
  }

  async srem(key: string, member: string) {
    await this.run(() => this.answered(this.client.srem(key, member)));
  }

  smembers(key: string) {
    return this.run(() => this.answered(this.client.smembers(key)));
  }

  async sscan(key: string, cursor: string, count: number) {
    if (!(Number.isInteger(count) && count >= 1)) throw StoreErrors.countInvalid();
    const [next, members] = await this.run(() => this.answered(this.client.sscan(key, cursor, 'COUNT', count)));
    return { cursor: next, members };
  }

  async rpush(key: string, value: string, ttlSeconds: number) {
    const res = await this.run(() => this.answered(this.client.multi().rpush(key, value).expire(key, ttlSeconds, 'NX').expire(key, ttlSeconds, 'GT').exec()));
    const failed = res?.find(([err]) => err);
    if (failed) throw failed[0];
    return Number(res?.[0]?.[1]);
  }

  lrange(key: string, start: number, stop: number) {
    return this.run(() => this.answered(this.client.lrange(key, start, stop)));
  }

  async multi(ops: StoreOp[]) {
    if (ops.length === 0) return;
    await this.run(() => {
      const { keys, args } = encodeOps(ops);
      return this.answered(this.scripts.twMulti(keys.length, ...keys, ...args));
    });
  }

  async publish(channel: string, message: string) {
    await this.run(() => this.answered(this.client.publish(channel, message)));
  }

  subscribe(channel: string, handler: MessageHandler) {
    return this.pubsub.subscribe(channel, handler);
  }

  /**
   * Redis answers, and as a primary. HELLO with no protocol version answers as PING does (an ACL
   * user with +@connection may send both) and names the server's role: a replica answers every
   * ping and refuses every write (a failover's demoted primary), so it is not ready, and the
   * connection is made again, to the endpoint's new primary, before a call meets it. A server,
   * proxy or ACL user that refuses HELLO is pinged.
   */
  async ping() {
    const reply = await this.run(() =>
      this.answered(this.client.call('HELLO')).catch((e: unknown) =>
        // refused (not known, or not allowed this user): PING alone, which says nothing of the role
        e instanceof ReplyError ? this.answered(this.client.ping()).then(() => null) : Promise.reject(e),
      ),
    );
    const fields = Array.isArray(reply) ? reply : [];
    const role = fields[fields.indexOf('role') + 1];
    if (role === 'replica' || role === 'slave') {
      this.client.disconnect(true);
      throw StoreErrors.unavailable({ detail: 'Redis answers as a replica, refusing writes: connecting again' });
    }
  }

  async close() {
    this.client.disconnect();
    this.pubsub.close();
  }
}
