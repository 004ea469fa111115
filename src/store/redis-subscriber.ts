/**
 * The store's pub/sub connection (Redis takes no other command on a subscribed connection): made
 * at the first subscribe, its channels subscribed again by the store on each reconnect.
 */
import type Redis from 'ioredis';
import { connection } from './redis-connection';
import type { MessageHandler } from './types';

/** a resubscribe refused with the connection up is tried again after this, doubling to RESUBSCRIBE_MAX_MS */
const RESUBSCRIBE_FIRST_MS = 1_000;
const RESUBSCRIBE_MAX_MS = 30_000;

export class RedisSubscriber {
  private subscriber?: Redis;
  /** the subscriber connection being made: a subscribe asked meanwhile waits for it, not sends on it unready */
  private subscriberReady?: Promise<Redis>;
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  /** the next try of a resubscribe Redis refused with the connection up */
  private resubscribeTimer?: NodeJS.Timeout;

  /**
   * `run`: the store's outage mapping (a failure as StoreErrors.unavailable, saying why);
   * `answered`: the store's bound on a command's answer.
   */
  constructor(
    private readonly url: string,
    private readonly run: <T>(fn: () => Promise<T>) => Promise<T>,
    private readonly answered: <T>(reply: Promise<T>) => Promise<T>,
  ) {}

  private subscriberConnection(): Promise<Redis> {
    this.subscriberReady ??= this.connectSubscriber().catch((e: unknown) => {
      // not made (Redis away): the next subscribe makes it again
      this.subscriberReady = undefined;
      throw e;
    });
    return this.subscriberReady;
  }

  private async connectSubscriber(): Promise<Redis> {
    if (!this.subscriber) {
      // ioredis's own resubscribe after a reconnect leaves its SUBSCRIBE's promise unhandled: a
      // connection lost again before it is sent (enableOfflineQueue off) rejects it, and an
      // unhandled rejection ends the process, every instance at once as Redis flaps. The store
      // subscribes its channels again itself, on each 'ready', a refusal left to the next one.
      const sub = connection(this.url, { autoResubscribe: false });
      // as the client's: surfaced through failing subscribes and /readyz; an unhandled 'error' would crash
      sub.on('error', () => undefined);
      sub.on('message', (channel: string, message: string) => {
        for (const h of this.handlers.get(channel) ?? []) h(message);
      });
      sub.on('ready', () => this.resubscribe(sub, RESUBSCRIBE_FIRST_MS));
      this.subscriber = sub;
      await sub.connect();
    }
    return this.subscriber;
  }

  /**
   * Subscribes the channels again on a connection made again. A refusal with the connection gone
   * waits for its next 'ready'; one with the connection up (an ACL that no longer lets this user
   * subscribe, a stalled Redis past the command bound) is tried again, from 1 s doubling to 30 s,
   * for as long as that connection lasts: else the instance stays deaf to events and commands
   * until a reconnect that may never come.
   */
  private resubscribe(sub: Redis, delayMs: number): void {
    clearTimeout(this.resubscribeTimer);
    const channels = [...this.handlers.keys()];
    if (channels.length === 0) return;
    sub.subscribe(...channels).catch(() => {
      // the connection went again (no offline queue): its next 'ready' subscribes them
      if (sub.status !== 'ready' || this.subscriber !== sub) return;
      this.resubscribeTimer = setTimeout(() => {
        if (sub.status === 'ready' && this.subscriber === sub) this.resubscribe(sub, Math.min(delayMs * 2, RESUBSCRIBE_MAX_MS));
      }, delayMs);
      this.resubscribeTimer.unref();
    });
  }

  async subscribe(channel: string, handler: MessageHandler) {
    const sub = await this.run(() => this.subscriberConnection());
    let set = this.handlers.get(channel);
    if (!set) {
      const created = new Set<MessageHandler>();
      set = created;
      this.handlers.set(channel, created);
      try {
        await this.run(() => this.answered(sub.subscribe(channel)));
      } catch (e) {
        // not subscribed (Redis away): a channel left with its empty set would be taken as live by
        // the next subscribe, which would then never SUBSCRIBE and never hear a message
        if (this.handlers.get(channel) === created && created.size === 0) this.handlers.delete(channel);
        throw e;
      }
    }
    set.add(handler);
    return async () => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.handlers.delete(channel);
        // the handler is gone, so nothing more is delivered to it, whatever Redis answers. Within
        // the store's command bound, as every command: left to ioredis's backstop (5 s), an
        // instance stopping with Redis stalled waited that long on each channel it left. A failure
        // is the caller's to note (the store has no logger); the channel goes with the connection.
        await this.run(() => this.answered(sub.unsubscribe(channel)));
      }
    };
  }

  close(): void {
    clearTimeout(this.resubscribeTimer);
    this.subscriber?.disconnect();
  }
}
