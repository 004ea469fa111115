/**
 * Returns after a failed step that the store did not take (dropin/failure-return.ts returnAfterFailure):
 * the call went back to the app with `Result=internal-error`, but the store was unreachable, so
 * the call's record still says the capture runs and its hang-up watch is still there. Once the
 * store answers again, that watch would report `caller-hung-up` when the call ends in the app's
 * hands: a second, contradicting result. So this instance keeps each such return in memory and
 * saves it again every RETURN_RETRY_MS until it lands (the session returned with
 * `internal-error`, the watch removed, `dropin.returned` audited once, and, for a call that was
 * over, the result's POST queued), and the service flushes
 * it before it reports a hang-up (`flush`), and asks `has` before it posts a result.
 *
 * What memory cannot cover (the window left open, as the store is the only shared truth and it
 * was down):
 * - this instance stops or restarts before the store comes back: the return is lost with its
 *   memory, and the watch reports `caller-hung-up` when the call ends;
 * - another instance reads the watch in the moment between the store coming back and this
 *   instance's next retry (at most RETURN_RETRY_MS plus the store client's reconnection), and
 *   delivers its `caller-hung-up` POST before this instance withdraws it.
 */
import type { Logger } from 'pino';
import type { CallRepository } from '../calls/repository';
import { DropinErrors, isTonewallError, StoreErrors } from '../errors';
import { errFields } from '../log';
import type { AuditSink } from '../recording/controller';

/**
 * How often an unsaved return is saved again. Well under the hang-up poll (HANGUP_POLL_MS, 5 s),
 * which is also how often other instances scan for watches: once the store is back, this
 * instance's retry most likely lands before any instance reads the call's watch.
 */
export const RETURN_RETRY_MS = 1_000;

/** a return after a failed step, and which of its writes have landed */
interface Return {
  callSid: string;
  /** the capture's flow, when the request or the stored record named it */
  flowId?: string;
  /** every recording the capture held paused was resumed (the record may say `in-progress` again) */
  resumed: boolean;
  /** the record says returned (or had its result already) */
  marked: boolean;
  /**
   * The call was over when it was returned (the caller hung up): Twilio drops the <Redirect>, so
   * the result goes to the return URL server to server, queued once per call (result-delivery.ts).
   */
  post?: { url: string; params: Record<string, string> };
  /** that POST queued (or there was none to queue, or the call's result was queued before) */
  posted: boolean;
  /** `mark` set the capture's result on the record: only then is it POSTed (else the app had one, or there is no call) */
  setResult?: boolean;
  /** the first entry of a matching pair the caller had keyed, sealed while its second was awaited (`mark` takes it off the record) */
  sealed?: string;
  /** that entry erased (or there was none) */
  erased: boolean;
  unwatched: boolean;
  audited: boolean;
  /** saved after the app already had the call back: a `caller-hung-up` queued meanwhile is withdrawn */
  late: boolean;
  /** the timer's retries of it that failed: logged at the 1st, 2nd, 4th, 8th... (loggedAt) */
  failures: number;
  /** the call's logger */
  log: Logger;
}

export interface UnsavedReturnsDeps {
  calls: CallRepository;
  audit: AuditSink;
  /** erases a sealed vault entry (a matching pair's first entry the capture left unconfirmed) */
  erase: (token: string) => Promise<void>;
  /** removes the call's hang-up watch from the store */
  unwatch: (callSid: string) => Promise<void>;
  /** withdraws the call's pending result POST; false while another instance is trying it */
  withdraw: (callSid: string) => Promise<boolean>;
  /** queues the result's POST to the return URL (ResultDelivery.enqueue): false when the call's result was queued before */
  post: (callSid: string, url: string, params: Record<string, string>) => Promise<boolean>;
  /** the call left tonewall's hands (the active-calls gauge) */
  onLeft: () => void;
  retryMs?: number;
}

export class UnsavedReturns {
  private readonly pending = new Map<string, Return>();
  private readonly saving = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  /** stop() was called: no timer is set again, whatever is in flight when it comes */
  private stopped = false;

  constructor(private readonly d: UnsavedReturnsDeps) {}

  /**
   * Saves the return of a call sent back to the app after a failed step; what the store cannot
   * take now is kept and saved again until it lands. `unwatched`: the watch was removed already.
   * `post`: the call was over, so the result is POSTed to the return URL, as a hang-up's is.
   */
  async save(r: { callSid: string; flowId?: string; resumed: boolean; unwatched: boolean; post?: Return['post']; log: Logger }): Promise<void> {
    const ret: Return = { ...r, marked: false, erased: false, audited: false, posted: r.post === undefined, late: false, failures: 0 };
    try {
      await this.write(ret);
    } catch (err) {
      // the app gets the call back all the same; until the store takes the return, this instance remembers it
      r.log.error({ err: errFields(err) }, 'drop-in return not saved: the store is unreachable, retrying in the background');
      ret.late = true;
      this.pending.set(r.callSid, ret);
      this.schedule();
    }
  }

  /**
   * This instance returned the call to the app by a redirect, and the store does not know it yet.
   * Not a call that was over (`post`): the app got no redirect, so a result POST queued for it,
   * its own or a hang-up's, is the one it gets.
   */
  has(callSid: string): boolean {
    const r = this.pending.get(callSid);
    return r !== undefined && r.post === undefined;
  }

  /**
   * Saves the return kept for the call now (none kept: nothing to do), one save at a time per
   * call; resolves once it landed, throws while it cannot (it stays kept).
   */
  async flush(callSid: string): Promise<void> {
    const r = this.pending.get(callSid);
    if (!r) return;
    let saving = this.saving.get(callSid);
    if (!saving) {
      saving = this.write(r)
        .then(() => {
          this.pending.delete(callSid);
          r.log.info({ result: 'internal-error' }, 'drop-in return saved once the store answered again');
        })
        .finally(() => this.saving.delete(callSid));
      this.saving.set(callSid, saving);
    }
    await saving;
  }

  /**
   * No more retries, for good: a retry in flight ends without scheduling the next, and a return
   * kept after this is not retried. What is kept is lost with this process (see the window above).
   */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Writes what of the return has not landed. A part the store cannot take now (unreachable, or
   * the result POST in another instance's hands) throws, to be tried again; one it will never take
   * (a record or trail that no longer parses) is logged and given up, as nothing else can be done.
   */
  private async write(r: Return): Promise<void> {
    let retry: unknown;
    const part = async (done: 'marked' | 'erased' | 'unwatched' | 'audited' | 'posted', save: () => Promise<unknown>, failure: string): Promise<void> => {
      if (r[done]) return;
      try {
        await save();
        r[done] = true;
      } catch (err) {
        if (retryable(err)) retry ??= err;
        else {
          r.log.error({ err: errFields(err) }, failure);
          r[done] = true;
        }
      }
    };
    await part('marked', () => this.mark(r), 'drop-in capture: internal-error not saved on the call');
    // once the record no longer names it (marked), or it would be named by a record and gone
    if (r.marked) {
      const sealed = r.sealed;
      await part('erased', async () => sealed && this.d.erase(sealed), 'drop-in capture: unconfirmed first entry not erased');
    }
    // after the mark, which says whether this return set the capture's result (else the app had
    // one: nothing to post), so the call's end finds it set and reports no hang-up; queued once per call
    const post = r.post;
    if (r.marked && r.setResult)
      await part(
        'posted',
        async () => {
          if (post && (await this.d.post(r.callSid, post.url, post.params)))
            r.log.info({ result: 'internal-error' }, 'drop-in capture failed with the call over: posting the result');
        },
        'drop-in capture: the result of a call that ended was not queued for the app',
      );
    await part('unwatched', () => this.d.unwatch(r.callSid), 'drop-in watch not removed');
    // the entry names the flow, which the mark reads from the record when the return did not know
    // it: until the mark has read it (or was given up), the entry waits for the next try, as an
    // append now would be held and written without it (audit/held.ts)
    if (r.flowId || r.marked)
      await part(
        'audited',
        () => this.d.audit.append(r.callSid, { type: 'dropin.returned', ...(r.flowId ? { flowId: r.flowId } : {}), result: 'internal-error' }),
        'drop-in audit entry not written',
      );
    if (retry !== undefined) throw retry;
  }

  /**
   * The record says the capture returned with internal-error, unless it has its result already;
   * a first entry of a matching pair it still named is left to `write` to erase. A return whose
   * record had its result already (the app had it: a redirect, a hang-up's POST), or has none,
   * posts nothing (`setResult`): a result is POSTed only by the return that set it.
   */
  private async mark(r: Return): Promise<void> {
    let returnedHere = false;
    let hungUp = false;
    await this.d.calls.update(r.callSid, (stored) => {
      // run again on the record that won when another writer changed it first: what this run finds, nothing of the last
      returnedHere = false;
      r.setResult = false;
      r.sealed = undefined;
      r.flowId ??= stored.flowId;
      hungUp = stored.dropin?.result === 'caller-hung-up';
      if (!stored.dropin || stored.dropin.result) return false;
      stored.dropin.result = 'internal-error';
      r.setResult = true;
      // a matching pair's first entry, keyed and sealed, its second never to come: it goes with the capture
      r.sealed = stored.pendingMatch?.token || undefined;
      stored.pendingMatch = undefined;
      if (stored.recording.status === 'paused' && r.resumed) stored.recording.status = 'in-progress';
      if (stored.state === 'ivr') {
        stored.state = 'returned';
        returnedHere = true;
      }
    });
    // counted out of the active calls where the record says it left; else the call's end does it
    if (returnedHere) this.d.onLeft();
    // another instance reported the hang-up before this return was saved: the app had internal-error
    // first, by the redirect (a call over had none: the hang-up's POST is the one result it gets)
    if (hungUp && r.late && !r.post && !(await this.d.withdraw(r.callSid))) throw DropinErrors.resultInFlight();
  }

  private schedule(): void {
    if (this.stopped || this.timer || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.retry();
    }, this.d.retryMs ?? RETURN_RETRY_MS);
    this.timer.unref();
  }

  private async retry(): Promise<void> {
    await Promise.all(
      [...this.pending.values()].map((r) =>
        this.flush(r.callSid).catch((err: unknown) => {
          r.failures++;
          if (loggedAt(r.failures)) r.log.warn({ err: errFields(err), failures: r.failures }, 'drop-in return still not saved: will retry');
        }),
      ),
    );
    this.schedule();
  }
}

/**
 * Whether a return's nth failed retry is logged: the 1st, 2nd, 4th, 8th... A store down for an
 * hour would otherwise log a line per return every RETURN_RETRY_MS; this logs about a dozen, the
 * count in each telling how long it has lasted.
 */
function loggedAt(failures: number): boolean {
  return failures > 0 && (failures & (failures - 1)) === 0;
}

/** the store is unreachable, or another instance is sending the result: worth trying again */
function retryable(err: unknown): boolean {
  return isTonewallError(err) && (err.code === StoreErrors.unavailable.code || err.code === DropinErrors.resultInFlight.code);
}
