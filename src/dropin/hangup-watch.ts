/**
 * The caller-hung-up watch of drop-in captures. Twilio makes no request when a caller leaves a
 * <Gather>, and the call's status callback is the app's, so while a capture waits on its caller
 * Twilio's call resource is read every `pollMs`:
 *
 * - In the store, not in one instance's memory. A watch is a small record per call
 *   (`keys.dropinWatch`: when the call's status is next read; no personal data) and an entry in
 *   an index (`keys.dropinWatches()`), created together. An instance that stops leaves its
 *   watches there, and every other instance (or itself, restarted) takes them up at its next scan.
 * - Read once per period by the whole deployment. Every instance keeps a timer for each watch's
 *   next read; when it fires, the read is claimed by compare-and-set of the record (its next read
 *   moved one period on), so one instance reads Twilio, the others see the new time and wait.
 * - Ended by the capture's return (the service removes it), or by what a read finds: the call
 *   ended or the capture has its result (`onEnded`, which reports and removes it), the call gone
 *   or already returned to the app (removed here).
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { TERMINAL_CALL_STATUSES, type CallControl } from '../calls/control';
import type { CallRepository } from '../calls/repository';
import { CALL_TTL_SECONDS } from '../calls/session';
import { errFields } from '../log';
import type { Keys, Store, StoreOp } from '../store';
import { DueWork } from './due-work';

/** a watch lives no longer than the call record it watches; each claimed read renews it */
export const WATCH_TTL_SECONDS = CALL_TTL_SECONDS;

const watchRecord = z.object({ v: z.literal(1), callSid: z.string(), nextAt: z.number(), createdAt: z.number() });
type WatchRecord = z.infer<typeof watchRecord>;

export interface HangupWatchDeps {
  store: Store;
  keys: Keys;
  calls: CallRepository;
  twilio: CallControl;
  log: Logger;
  /** how often a watched call's status is read, and how often this instance scans for watches */
  pollMs: number;
  /**
   * The call ended (Twilio says so, or the record does) or its capture already has the
   * `caller-hung-up` result: report it (once, however often this is called) and remove the watch.
   */
  onEnded: (callSid: string, status?: string) => Promise<void>;
}

export class HangupWatch {
  private readonly due: DueWork;

  constructor(private readonly d: HangupWatchDeps) {
    this.due = new DueWork(
      (callSid) => this.turn(callSid),
      (callSid, err) => d.log.warn({ callSid, err: errFields(err) }, 'drop-in call status poll failed'),
    );
  }

  /** the capture waits on its caller (from its first prompt on): watched until it returns or the call ends */
  async add(callSid: string): Promise<void> {
    const { store, keys } = this.d;
    const now = Date.now();
    const rec: WatchRecord = { v: 1, callSid, nextAt: now + this.d.pollMs, createdAt: now };
    const res = await store.createWith(keys.dropinWatch(callSid), JSON.stringify(rec), WATCH_TTL_SECONDS, this.renewal(callSid));
    if (res.created) this.due.at(callSid, rec.nextAt);
    else await store.multi(this.renewal(callSid));
  }

  /**
   * `add` as writes, for a caller that makes them in its own atomic write, when the watch exists
   * (`held`: its record as the caller read it); undefined when it does not, and `add` must create it.
   */
  addOps(callSid: string, held: string | null): StoreOp[] | undefined {
    return parseWatch(held) ? this.renewal(callSid) : undefined;
  }

  /** the store key of a call's watch, for a caller that reads it with others (addOps) */
  key(callSid: string): string {
    return this.d.keys.dropinWatch(callSid);
  }

  /** every webhook of the capture renews the index, so it outlives each watch its reads renew */
  private renewal(callSid: string): StoreOp[] {
    return [{ op: 'sadd', key: this.d.keys.dropinWatches(), member: callSid, ttlSeconds: WATCH_TTL_SECONDS }];
  }

  async remove(callSid: string): Promise<void> {
    this.due.cancel(callSid);
    await this.d.store.multi([
      { op: 'del', key: this.d.keys.dropinWatch(callSid) },
      { op: 'srem', key: this.d.keys.dropinWatches(), member: callSid },
    ]);
  }

  /** takes up every watch in the store (those a stopped instance left too) and keeps scanning for new ones */
  async start(): Promise<void> {
    await this.due.start(
      () => this.scan(),
      this.d.pollMs,
      (err) => this.d.log.warn({ err: errFields(err) }, 'drop-in watch scan failed'),
    );
  }

  /** stops reading; the watches stay in the store for the instances still running */
  async stop(): Promise<void> {
    await this.due.stop();
  }

  private async scan(): Promise<void> {
    const { store, keys } = this.d;
    for (const callSid of await store.smembers(keys.dropinWatches())) {
      if (this.due.holds(callSid)) continue;
      const rec = parseWatch(await store.get(keys.dropinWatch(callSid)));
      // an index entry whose watch was removed, or expired
      if (!rec) await store.srem(keys.dropinWatches(), callSid);
      else this.due.at(callSid, rec.nextAt);
    }
  }

  /** this period's read of one call, if this instance claims it */
  private async turn(callSid: string): Promise<void> {
    const { store, keys } = this.d;
    const key = keys.dropinWatch(callSid);
    const raw = await store.get(key);
    const rec = parseWatch(raw);
    if (!rec) return store.srem(keys.dropinWatches(), callSid);
    const now = Date.now();
    if (rec.nextAt > now) return this.due.at(callSid, rec.nextAt);
    const next: WatchRecord = { ...rec, nextAt: now + this.d.pollMs };
    const claim = await store.compareAndSet(key, raw, JSON.stringify(next), WATCH_TTL_SECONDS);
    if (!claim.ok) {
      // another instance claimed this period (or the watch was removed): wait for the next one
      const current = parseWatch(claim.current);
      if (current) this.due.at(callSid, current.nextAt);
      return;
    }
    this.due.at(callSid, next.nextAt);
    await this.read(callSid);
  }

  private async read(callSid: string): Promise<void> {
    const s = await this.d.calls.get(callSid);
    if (!s?.dropin) return this.remove(callSid);
    // the result is in, or the call ended, but the report may not be queued (an instance stopped
    // between the two): onEnded queues it at most once
    if (s.dropin.result === 'caller-hung-up' || (s.state === 'ended' && !s.dropin.result)) return this.d.onEnded(callSid);
    if (s.dropin.result || s.state !== 'ivr') return this.remove(callSid);
    const call = await this.d.twilio.calls(callSid).fetch();
    if (TERMINAL_CALL_STATUSES.has(call.status)) await this.d.onEnded(callSid, call.status);
  }
}

function parseWatch(raw: string | null): WatchRecord | null {
  if (raw === null) return null;
  try {
    const parsed = watchRecord.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    // not JSON: not a watch this code wrote
    return null;
  }
}
