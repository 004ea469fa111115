/**
 * Calls whose end nobody reported. A call's record moves to ended on its status callback, its
 * bridge's end or a drop-in capture's hang-up watch. Twilio sends a status callback only where
 * the number has one configured, sends it once, and does not retry it when it fails (a deploy or
 * a Redis outage at that moment): such a call stayed live in the store, on the agents' call
 * list and in `tonewall_calls_active` until its record expired (CALL_TTL_SECONDS, four hours;
 * the gauge, for ever).
 *
 * So, once every `everyMs` for the whole deployment (the instance that claims the period sweeps),
 * each live call that has not changed for `quietMs` is looked up on Twilio's REST API, a few at
 * a time (SWEEP_READS_AT_ONCE), the live calls read a page at a time (SWEEP_PAGE_SIZE), each
 * page's looked up before the next is read. One that
 * Twilio says is over is ended as its status callback would have ended it: the record moved to
 * ended, a pending sealed value forgotten, `call.ended` in its audit trail and on the bus (its
 * captures and bridges stop), counted out of the active calls and into the ended ones, once,
 * whichever of the sweep, a late status callback or a bridge's end comes first. A call still in
 * progress (a long conversation with an agent) is looked up again a period later; a drop-in
 * capture's call is its hang-up watch's (dropin/hangup-watch.ts), and a returned one the app's.
 */
import type { AuditTrail } from '../audit';
import type { EventBus } from '../bus';
import { errFields, type Logger } from '../log';
import type { Metrics } from '../metrics';
import type { Keys, Store } from '../store';
import type { Vault } from '../vault';
import { TERMINAL_CALL_STATUSES, type CallControl } from './control';
import type { CallRepository } from './repository';
import { endSession, type CallSession } from './session';

/** every five minutes: a call no status callback ended leaves the live calls within ten */
export const SWEEP_EVERY_MS = 5 * 60_000;
/** a call that changed less than this long ago is in someone's hands: its next webhook says how it stands */
export const SWEEP_QUIET_MS = 5 * 60_000;

/**
 * Twilio reads a sweep makes at once. One after another, a sweep of a few thousand quiet calls
 * (long conversations) outlasted its period; all at once, it would meet the account's limit on
 * concurrent REST requests, which the service's other REST calls (recording pauses) share.
 */
export const SWEEP_READS_AT_ONCE = 8;

/**
 * Call records a sweep reads at once: it reads the live calls a page at a time and looks each
 * page's quiet ones up before it reads the next, so that a deployment with many thousands of live
 * calls does not build a list of every one each period and hold it through the REST reads. A few
 * hundred records (a few hundred KB) to a page; one page's reads are many times SWEEP_READS_AT_ONCE.
 */
export const SWEEP_PAGE_SIZE = 200;

/** `fn` on every item, at most `n` at once; resolves when all have settled (`fn` handles its own failures) */
export async function eachAtMost<T>(n: number, items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

export interface CallSweepDeps {
  store: Store;
  keys: Keys;
  calls: CallRepository;
  vault: Pick<Vault, 'erase'>;
  twilio: CallControl;
  audit: AuditTrail;
  events: EventBus;
  metrics: Metrics;
  log: Logger;
  instanceId: string;
  everyMs?: number;
  quietMs?: number;
  /** SWEEP_PAGE_SIZE unless a test makes pages smaller */
  pageSize?: number;
}

export class CallSweep {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly everyMs: number;
  private readonly quietMs: number;
  private readonly pageSize: number;

  constructor(private readonly d: CallSweepDeps) {
    this.everyMs = d.everyMs ?? SWEEP_EVERY_MS;
    this.quietMs = d.quietMs ?? SWEEP_QUIET_MS;
    this.pageSize = d.pageSize ?? SWEEP_PAGE_SIZE;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // a sweep still running (a slow REST API) is not started again beside itself
      if (this.running) return;
      this.running = this.sweep()
        .then(() => undefined)
        .catch((err: unknown) => this.d.log.warn({ err: errFields(err) }, 'call sweep failed'))
        .finally(() => (this.running = undefined));
    }, this.everyMs);
    this.timer.unref();
  }

  /** stops sweeping and waits for a sweep in flight */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * One sweep, if this instance claims this period (another may have): the calls it ended, or
   * null when another instance holds the period
   */
  async sweep(): Promise<string[] | null> {
    const { store, keys } = this.d;
    const periodSeconds = Math.max(1, Math.floor(this.everyMs / 1000));
    if (!(await store.setIfAbsent(keys.callSweep(), this.d.instanceId, periodSeconds))) return null;
    const now = Date.now();
    const ended: string[] = [];
    let looked = 0;
    // a page's calls are looked up before the next page is read: the sweep holds one page, however many calls are live
    for await (const page of this.d.calls.pages(this.pageSize)) {
      const quiet = page.filter((s) => s.state !== 'ended' && s.state !== 'returned' && !s.dropin && now - s.updatedAt >= this.quietMs);
      looked += quiet.length;
      await eachAtMost(SWEEP_READS_AT_ONCE, quiet, async (s) => {
        try {
          const status = await this.twilioStatus(s.callSid);
          if (status && (await this.end(s, status))) ended.push(s.callSid);
        } catch (err) {
          // the next period asks again
          this.d.log.warn({ callSid: s.callSid, err: errFields(err) }, 'call sweep: status not read');
        }
      });
    }
    this.d.log.debug({ looked, ended: ended.length }, 'calls swept');
    return ended;
  }

  /**
   * Twilio's status of the call when it is over; null while it is not. A call Twilio does not
   * know (404: the REST credentials are another account's than the webhooks') throws like any
   * failed read: the sweep ends a call only on Twilio's word that it is over, never a live
   * conversation on a misconfiguration.
   */
  private async twilioStatus(callSid: string): Promise<string | null> {
    const { status } = await this.d.twilio.calls(callSid).fetch();
    return TERMINAL_CALL_STATUSES.has(status) ? status : null;
  }

  /** ended here, as its status callback would have: false when something else ended it first */
  private async end(found: CallSession, status: string): Promise<boolean> {
    let endedNow = false;
    let left = false;
    let sealed: string | undefined;
    await this.d.calls.update(
      found.callSid,
      (s) => {
        // run again on the record that won when another writer changed it first
        const end = endSession(s);
        [endedNow, left, sealed] = [end !== null, end?.left ?? false, end?.sealed];
        if (!end) return false;
      },
      { basis: found },
    );
    if (!endedNow) return false;
    if (left) this.d.metrics.callsActive.dec();
    this.d.metrics.callsEnded.inc({ status });
    this.d.metrics.callsSwept.inc();
    try {
      if (sealed) await this.d.vault.erase(sealed);
      await this.d.audit.append(found.callSid, { type: 'call.ended', twilioStatus: status, by: 'sweep' });
    } finally {
      // the one publish of the call's end: whoever moved the record to ended publishes it, no other
      await this.d.events.publish({ type: 'call.ended', callSid: found.callSid, status });
    }
    this.d.log.info({ callSid: found.callSid, status }, 'call ended: no status callback reported it');
    return true;
  }
}
