/**
 * The Redis store (ioredis). Commands fail fast when Redis is unreachable (no offline queue,
 * a short command timeout) so a webhook can answer safe TwiML within a second instead of
 * hanging; the error is thrown, never swallowed, and the edge decides what the caller hears.
 * Pub/sub uses its own connection, as Redis requires.
 */
import Redis, { type ChainableCommander } from 'ioredis';
import { Errors, isTonewallError } from '../errors';
import type { MessageHandler, Store, StoreOp } from './types';

const COMMAND_TIMEOUT_MS = 500;
const CONNECT_TIMEOUT_MS = 2_000;
const UPDATE_MAX_ATTEMPTS = 20;
const UPDATE_POOL_SIZE = 16;

function connection(url: string): Redis {
  return new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // keep trying to come back, but never faster than every 500 ms nor slower than every 2 s
    retryStrategy: (times) => Math.min(500 * times, 2_000),
  });
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly client: Redis;
  private subscriber?: Redis;
  private readonly handlers = new Map<string, Set<MessageHandler>>();

  constructor(private readonly url: string) {
    this.client = connection(url);
    this.client.on('error', () => {
      /* surfaced through failing commands and /readyz; an unhandled 'error' would crash */
    });
  }

  async connect(): Promise<void> {
    await this.client.connect();
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      // a command Redis refused, or our own coded error (an update conflict), is not an outage
      if (isTonewallError(cause) || (cause instanceof Error && /WRONGTYPE|ERR /.test(cause.message))) throw cause;
      throw Errors.storeUnavailable({ cause });
    }
  }

  get(key: string) {
    return this.run(() => this.client.get(key));
  }

  async set(key: string, value: string, ttlSeconds: number) {
    await this.run(() => this.client.set(key, value, 'EX', ttlSeconds));
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number) {
    return (await this.run(() => this.client.set(key, value, 'EX', ttlSeconds, 'NX'))) === 'OK';
  }

  take(key: string) {
    return this.run(() => this.client.getdel(key));
  }

  del(...keys: string[]) {
    if (keys.length === 0) return Promise.resolve(0);
    return this.run(() => this.client.del(...keys));
  }

  async expire(key: string, ttlSeconds: number) {
    await this.run(() => this.client.expire(key, ttlSeconds));
  }

  ttl(key: string) {
    return this.run(() => this.client.ttl(key));
  }

  async incr(key: string, ttlSeconds: number) {
    const res = await this.run(() => this.client.multi().incr(key).expire(key, ttlSeconds, 'NX').exec());
    return Number(res?.[0]?.[1]);
  }

  async update(key: string, fn: (current: string | null) => string | undefined, ttlSeconds: number) {
    // optimistic concurrency: WATCH is per connection, so each update borrows a dedicated
    // connection from a small pool (opening one per update would cost a TCP handshake each)
    return this.run(async () => {
      const conn = this.borrow();
      let healthy = true;
      try {
        for (let attempt = 0; attempt < UPDATE_MAX_ATTEMPTS; attempt++) {
          await conn.watch(key);
          const cur = await conn.get(key);
          const next = fn(cur);
          if (next === undefined) {
            await conn.unwatch();
            return cur;
          }
          const res = await conn.multi().set(key, next, 'EX', ttlSeconds).exec();
          if (res) return next;
        }
        throw Errors.conflict({ detail: 'too many concurrent updates' });
      } catch (e) {
        healthy = false;
        throw e;
      } finally {
        this.giveBack(conn, healthy);
      }
    });
  }

  private readonly idle: Redis[] = [];

  private borrow(): Redis {
    const conn = this.idle.pop();
    if (conn) return conn;
    const fresh = this.client.duplicate({ enableOfflineQueue: true, lazyConnect: false });
    fresh.on('error', () => undefined);
    return fresh;
  }

  private giveBack(conn: Redis, healthy: boolean): void {
    if (healthy && this.idle.length < UPDATE_POOL_SIZE && conn.status === 'ready') this.idle.push(conn);
    else {
      // a connection left mid-WATCH or broken is not reused
      conn.disconnect();
    }
  }

  async sadd(key: string, member: string, ttlSeconds: number) {
    await this.multi([{ op: 'sadd', key, member, ttlSeconds }]);
  }

  async srem(key: string, member: string) {
    await this.run(() => this.client.srem(key, member));
  }

  smembers(key: string) {
    return this.run(() => this.client.smembers(key));
  }

  async rpush(key: string, value: string, ttlSeconds: number) {
    const res = await this.run(() => this.chain(this.client.multi(), [{ op: 'rpush', key, value, ttlSeconds }]).exec());
    return Number(res?.[0]?.[1]);
  }

  lrange(key: string, start: number, stop: number) {
    return this.run(() => this.client.lrange(key, start, stop));
  }

  private chain(m: ChainableCommander, ops: StoreOp[]): ChainableCommander {
    for (const op of ops) {
      switch (op.op) {
        case 'set':
          m.set(op.key, op.value, 'EX', op.ttlSeconds);
          break;
        case 'del':
          m.del(op.key);
          break;
        case 'expire':
          m.expire(op.key, op.ttlSeconds);
          break;
        case 'sadd':
          // a collection's TTL only ever grows: NX sets it on creation, GT extends it
          m.sadd(op.key, op.member).expire(op.key, op.ttlSeconds, 'NX').expire(op.key, op.ttlSeconds, 'GT');
          break;
        case 'srem':
          m.srem(op.key, op.member);
          break;
        case 'rpush':
          m.rpush(op.key, op.value).expire(op.key, op.ttlSeconds, 'NX').expire(op.key, op.ttlSeconds, 'GT');
          break;
      }
    }
    return m;
  }

  async multi(ops: StoreOp[]) {
    if (ops.length === 0) return;
    const res = await this.run(() => this.chain(this.client.multi(), ops).exec());
    const failed = res?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async publish(channel: string, message: string) {
    await this.run(() => this.client.publish(channel, message));
  }

  private async subscriberConnection(): Promise<Redis> {
    if (!this.subscriber) {
      const sub = connection(this.url);
      sub.on('error', () => undefined);
      sub.on('message', (channel: string, message: string) => {
        for (const h of this.handlers.get(channel) ?? []) h(message);
      });
      this.subscriber = sub;
      await sub.connect();
    }
    return this.subscriber;
  }

  async subscribe(channel: string, handler: MessageHandler) {
    const sub = await this.run(() => this.subscriberConnection());
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await this.run(() => sub.subscribe(channel));
    }
    set.add(handler);
    return async () => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.handlers.delete(channel);
        await sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  async ping() {
    await this.run(() => this.client.ping());
  }

  async close() {
    for (const c of this.idle.splice(0)) c.disconnect();
    this.client.disconnect();
    this.subscriber?.disconnect();
  }
}
