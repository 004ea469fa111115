/**
 * Drop-in capture (issue 13): the end of a capture another app redirected here. The flow runner
 * runs its steps (recording paused and fail-closed, values into the vault); this service
 * decides nothing about them, it carries the result back:
 *
 * - the call is live: resume the app's recordings if this capture paused them, save, wait (bounded)
 *   for the processors that take these fields, and answer with a <Redirect> to the return URL
 *   carrying the signed result (result-signature.ts); what the return waits on, the processors'
 *   first answers and the call's status, each bounded within the webhook's 15 s, is
 *   return-waits.ts;
 * - the caller hung up (no further webhook comes from a Gather the caller left, and the call's
 *   status callback belongs to the app, so Twilio's call resource is polled while a capture runs,
 *   hangup-watch.ts, and tonewall's own status route reports too): the result `caller-hung-up` is
 *   POSTed to the return URL, signed in `X-Tonewall-Signature`, retried like a processor delivery
 *   (result-delivery.ts). Both live in the store, not in one instance: any instance polls a
 *   watched call and retries a pending POST, and an instance that stops leaves them to the others;
 * - a step failed (an exception, the store unreachable): the call goes back all the same, with
 *   `Result=internal-error` as Twilio's <Pay> does, its recordings resumed first
 *   (`returnAfterFailure`, from what the request itself carries: dropin/action-query.ts); when
 *   the call is over by then (the caller hung up), that result is POSTed as a hang-up's is. That
 *   path, and which paused recordings a failed request may resume, is failure-return.ts.
 */
import type { Logger } from 'pino';
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import type { Flow } from '../flows/schema';
import { errFields } from '../log';
import type { ProcessorConfig } from '../processors/config';
import type { DeliveryResult } from '../processors/outcome';
import type { ProcessorSummary } from '../processors/summary';
import type { Backoff } from '../processors/http';
import type { AuditSink, RecordingController, RecordingOutcome } from '../recording/controller';
import type { CallControl } from '../calls/control';
import type { Keys, Store, StoreOp } from '../store';
import type { Vault } from '../vault';
import { HangupWatch } from './hangup-watch';
import { AppRecordings } from './app-recordings';
import { type FailureReturnDeps, type FailureReturnOptions, redirectTwiml, returnAfterFailure } from './failure-return';
import type { PausingRequest } from './held-pauses';
import { resultParams, type CaptureResult } from './outcome';
import { RESULT_SCAN_MS, ResultDelivery } from './result-delivery';
import { callOver, ProcessorWaits } from './return-waits';
import { signedReturnUrl } from './result-signature';
import { allowedReturnUrl } from './return-urls';
import { DropinErrors } from '../errors';
import { UnsavedReturns } from './unsaved-returns';

/** how often Twilio's call resource is read while a capture waits on the caller */
export const HANGUP_POLL_MS = 5_000;

export interface DropinDeps {
  /** where the hang-up watches and the pending result POSTs live, shared by every instance */
  store: Store;
  keys: Keys;
  calls: CallRepository;
  /** erases the first entry of a matching pair a capture left unconfirmed (sealed under `pendingMatch.token`): the caller hung up, or a step failed */
  vault: Pick<Vault, 'erase'>;
  recording: RecordingController;
  audit: AuditSink;
  twilio: CallControl;
  processors: readonly ProcessorConfig[];
  secret?: string;
  /** CAPTURE_RETURN_URLS: a result POST queued in the store goes only under these (result-delivery.ts) */
  returnUrls: readonly string[];
  log: Logger;
  onSessionChanged?: (s: CallSession) => void;
  /** the call leaves tonewall's hands (returned to the app, or hung up): the active-calls gauge */
  onLeft?: () => void;
  /**
   * a call ended in tonewall's hands, found by its hang-up watch (its status callback is the app's),
   * by Twilio's status: calls_ended_total, and its one `call.ended` (this end moved the record)
   */
  onEnded?: (callSid: string, status: string) => Promise<void>;
  processorWaitMs?: number;
  /** HANGUP_POLL_MS unless a test shortens it; result POSTs are scanned for at least as often */
  pollMs?: number;
  /** the result POST's retries (processors/http.ts DEFAULT_BACKOFF unless a test shortens them) */
  backoff?: Backoff;
  fetchImpl?: typeof fetch;
}

type Save = (s: CallSession) => Promise<void>;

export class DropinService {
  /** the captures ending here that wait on their processors' first answers */
  private readonly waits: ProcessorWaits;
  private readonly hangups: HangupWatch;
  private readonly results: ResultDelivery;
  /** the app's recordings on each call: found, paused and resumed by SID; `held`, those this process paused and has not resumed, for a step that fails after its pause */
  private readonly recordings: AppRecordings;
  /** calls this process returned to the app after a failed step while the store could not record it */
  private readonly unsaved: UnsavedReturns;
  /** what a failed step's return uses (failure-return.ts) */
  private readonly failures: FailureReturnDeps;

  constructor(private readonly d: DropinDeps) {
    const pollMs = d.pollMs ?? HANGUP_POLL_MS;
    this.waits = new ProcessorWaits(d.processors, d.processorWaitMs);
    this.recordings = new AppRecordings({ twilio: d.twilio, audit: d.audit, recording: d.recording });
    this.hangups = new HangupWatch({
      store: d.store,
      keys: d.keys,
      calls: d.calls,
      twilio: d.twilio,
      log: d.log,
      pollMs,
      onEnded: async (callSid, status) => {
        await this.onPoll?.(callSid, status);
      },
    });
    this.results = new ResultDelivery({
      store: d.store,
      keys: d.keys,
      audit: d.audit,
      log: d.log,
      secret: () => this.secret(),
      returnUrls: d.returnUrls,
      backoff: d.backoff,
      fetchImpl: d.fetchImpl,
      scanMs: Math.min(pollMs, RESULT_SCAN_MS),
      returned: (callSid) => this.unsaved.has(callSid),
      callExists: async (callSid) => (await d.calls.get(callSid)) !== null,
    });
    this.unsaved = new UnsavedReturns({
      calls: d.calls,
      audit: d.audit,
      erase: (token) => this.d.vault.erase(token),
      unwatch: (callSid) => this.hangups.remove(callSid),
      withdraw: (callSid) => this.results.withdraw(callSid),
      post: (callSid, url, params) => this.results.enqueue(callSid, url, params),
      onLeft: () => this.d.onLeft?.(),
    });
    this.failures = {
      recording: d.recording,
      twilio: d.twilio,
      held: this.recordings.held,
      unwatch: (callSid) => this.hangups.remove(callSid),
      unsaved: this.unsaved,
      secret: () => this.secret(),
    };
  }

  get configured(): boolean {
    return typeof this.d.secret === 'string';
  }

  /** the app's recordings on the call as the capture starts (AppRecordings.found) */
  appRecording(callSid: string, log: Logger): Promise<CallSession['recording']> {
    return this.recordings.found(callSid, log);
  }

  /**
   * `by`: the request pausing, whose failure resumes what it paused (returnAfterFailure `pausedBy`).
   * `listed`: this request listed the call's recordings as the capture started (appRecording); else they are listed again first.
   */
  pauseApp(s: CallSession, log: Logger, by?: PausingRequest, listed = false): Promise<RecordingOutcome> {
    return this.recordings.pause(s, log, by, listed);
  }

  resumeApp(s: CallSession): Promise<RecordingOutcome> {
    return this.recordings.resume(s);
  }

  /**
   * The capture ended while the call is live: the TwiML that returns it, with the signed result.
   * What fails before the save throws (the edge then returns the call with `internal-error`,
   * returnAfterFailure). Once the save is done the capture has returned as stored: a failure
   * after it (the processors' answer, the audit entry, the store) is logged and the app still
   * gets its result, `processor-error` when no processor's answer can be confirmed.
   */
  async end(flow: Flow, s: CallSession, result: CaptureResult, save: Save, log: Logger): Promise<string> {
    const dropin = s.dropin;
    if (!dropin) throw DropinErrors.notDropin();
    const secret = this.secret();
    // The return URL as the record names it, checked again as the failed step's return and each
    // result POST check theirs: a record changed in the store (a Redis writer) must not redirect
    // the caller's call, with its signed result, anywhere else. Before the save, so the edge
    // returns the call from the gather's own query (Twilio-signed, checked there too) with
    // internal-error, or says the apology.
    if (!allowedReturnUrl(dropin.returnUrl, this.d.returnUrls)) {
      log.warn({ reason: 'return-url-not-allowed' }, 'drop-in return refused');
      await this.d.audit
        .append(s.callSid, { type: 'dropin.refused', reason: 'return-url-not-allowed' })
        .catch((err: unknown) => log.error({ err: errFields(err) }, 'drop-in audit entry not written'));
      throw DropinErrors.returnNotAllowed();
    }
    this.unwatch(s.callSid);
    if (s.recording.status === 'paused') {
      const resumed = await this.resumeApp(s);
      if (resumed.ok) s.recording.status = 'in-progress';
    }
    s.state = 'returned';
    dropin.result = result;
    const waits = result === 'success' ? this.waits.awaitAll(flow, s) : [];
    await save(s);
    this.recordings.held.forget(s.callSid);
    this.d.onLeft?.();
    this.d.onSessionChanged?.(s);
    let processors: { name: string; summary?: ProcessorSummary }[] = [];
    try {
      const answers = await Promise.all(waits);
      if (answers.some((a) => !a.result?.ok)) result = 'processor-error';
      processors = answers.map((a) => ({ name: a.name, summary: a.result?.ok ? a.result.body : undefined }));
    } catch (err) {
      log.error({ err: errFields(err) }, "drop-in capture: the processors' answer could not be read");
      result = 'processor-error';
    }
    if (result === 'processor-error') {
      await this.d.calls
        .update(s.callSid, (stored) => {
          if (stored.dropin) stored.dropin.result = 'processor-error';
        })
        .catch((err: unknown) => log.error({ err: errFields(err) }, 'drop-in capture: processor-error not saved on the call'));
    }
    await this.d.audit
      .append(s.callSid, { type: 'dropin.returned', flowId: flow.id, result })
      .catch((err: unknown) => log.error({ err: errFields(err), result }, 'drop-in audit entry not written'));
    const params = resultParams(flow, s, result, processors);
    // the caller may have hung up while this webhook was answered (the processors' wait is long):
    // Twilio then drops the redirect, so the app gets the result server to server, as a hang-up's
    if (await callOver(this.d.twilio, s.callSid, log)) {
      const queued = await this.results.enqueue(s.callSid, dropin.returnUrl, params).catch((err: unknown) => {
        log.error({ err: errFields(err), result }, 'drop-in capture: the result of a call that ended was not queued for the app');
        return false;
      });
      if (queued) log.info({ result }, 'drop-in capture ended with the call: posting the result');
    }
    log.info({ result }, 'drop-in capture returned to the app');
    return redirectTwiml(signedReturnUrl(dropin.returnUrl, params, secret));
  }

  /**
   * A step of a capture failed: the call goes back to the app with `Result=internal-error`,
   * its recordings resumed first, from what the request carries (failure-return.ts, which says
   * what each option means).
   */
  returnAfterFailure(callSid: string, returnUrl: string, paused: readonly string[], log: Logger, opts: FailureReturnOptions = {}): Promise<string> {
    return returnAfterFailure(this.failures, callSid, returnUrl, paused, log, opts);
  }

  /**
   * A capture waiting on the caller: its call's status is read now and then, by whichever
   * instance claims each read, until it returns or the call ends. Written to the store before
   * the webhook is answered, so an instance that stops right after leaves it to the others.
   */
  async watch(callSid: string): Promise<void> {
    await this.hangups.add(callSid);
  }

  /**
   * `watch` as writes for a webhook's own atomic write, when the watch exists (`held`: its record,
   * read by the webhook's replay claim at `watchKey`); undefined when `watch` must create it.
   */
  watchOps(callSid: string, held: string | null): StoreOp[] | undefined {
    return this.hangups.addOps(callSid, held);
  }

  /** the store key of the call's watch (watchOps) */
  watchKey(callSid: string): string {
    return this.hangups.key(callSid);
  }

  /**
   * The call ended (its status callback, or a poll): a capture still running reports
   * `caller-hung-up`. Called again for the same call (the status callback after a poll, or a
   * watch whose instance stopped before the report was queued), it queues the report if it is
   * not yet, never a second one. The first entry of a matching pair the caller left unconfirmed
   * goes with the call, as tonewall's own status route drops it: the record no longer names it
   * and, once the report is queued, its sealed envelope is erased.
   */
  async callEnded(callSid: string, flowOf: (s: CallSession) => Flow | undefined, status = 'completed'): Promise<void> {
    // no call, nothing to resume: Twilio ends a call's recordings with it
    this.recordings.held.forget(callSid);
    // returned to the app by this instance, the store told only now: internal-error, never a hang-up too
    // (throws while the store cannot take it: the watch's next read, or the status callback's retry, comes back here)
    await this.unsaved.flush(callSid);
    let ended: CallSession | undefined;
    // the result set now, not by an earlier call whose report may still need queuing
    let resultSet = false;
    // ended here, not by tonewall's own status route (which counts the call out itself)
    let endedHere = false;
    // the token of a first entry sealed while its second was awaited (flows/matching.ts)
    let sealed: string | undefined;
    await this.d.calls.update(callSid, (stored) => {
      // run again on the record that won when another writer changed it first: what this run finds, nothing of the last
      [ended, resultSet, endedHere, sealed] = [undefined, false, false, undefined];
      if (stored.dropin?.result === 'caller-hung-up') ended = structuredClone(stored);
      if (!stored.dropin || stored.dropin.result) return false;
      stored.dropin.result = 'caller-hung-up';
      resultSet = true;
      sealed = stored.pendingMatch?.token || undefined;
      stored.pendingMatch = undefined;
      endedHere = stored.state !== 'ended';
      if (endedHere) {
        stored.state = 'ended';
        stored.endedAt = Date.now();
      }
      ended = structuredClone(stored);
    });
    if (ended?.dropin) {
      if (endedHere) {
        this.d.onLeft?.();
        await this.d.onEnded?.(callSid, status);
      }
      const flow = flowOf(ended);
      if (flow) await this.report(flow, ended, ended.dropin.returnUrl, resultSet);
    }
    // after the report, so a vault that fails cannot hold it back; failing, it throws and the
    // watch stays for the next read, which finds the report queued (the envelope then lives out VAULT_TTL_SECONDS)
    if (sealed) await this.d.vault.erase(sealed);
    await this.hangups.remove(callSid);
  }

  /** takes up the watches and pending result POSTs in the store, those a stopped instance left too */
  async start(): Promise<void> {
    // an instance without CAPTURE_RESULT_SECRET serves no capture and could sign no result
    if (!this.configured) return;
    await this.hangups.start();
    await this.results.start();
  }

  /** the delivery's answer for one processor (app.ts wires ProcessorDelivery's onResult here) */
  onProcessorResult(callSid: string, processor: string, result: DeliveryResult): void {
    this.waits.answer(callSid, processor, result);
  }

  /** stops the timers and waits for the polls and tries in flight; what is left stays in the store for the other instances */
  async close(): Promise<void> {
    this.recordings.held.clear();
    this.unsaved.stop();
    await Promise.all([this.hangups.stop(), this.results.stop()]);
  }

  private onPoll?: (callSid: string, status?: string) => Promise<void>;

  /** set by the app: what a poll that finds the call ended calls, with Twilio's status of the call */
  setEndedHandler(handler: (callSid: string, status?: string) => Promise<void>): void {
    this.onPoll = handler;
  }

  /** the capture returned: no more polls (a removal that fails is logged; the next poll sees the return and removes it) */
  private unwatch(callSid: string): void {
    this.hangups.remove(callSid).catch((err: unknown) => this.d.log.warn({ callSid, err: errFields(err) }, 'drop-in watch not removed'));
  }

  /** the `caller-hung-up` result, queued for its POST to the return URL (once per call, result-delivery.ts) */
  private async report(flow: Flow, ended: CallSession, returnUrl: string, resultSet: boolean): Promise<void> {
    const callSid = ended.callSid;
    if (resultSet) await this.d.audit.append(callSid, { type: 'dropin.returned', flowId: flow.id, result: 'caller-hung-up' });
    const queued = await this.results.enqueue(callSid, returnUrl, resultParams(flow, ended, 'caller-hung-up'));
    if (queued) this.d.log.info({ callSid, result: 'caller-hung-up' }, 'drop-in capture ended by the caller: posting the result');
  }

  private secret(): string {
    if (this.d.secret === undefined) throw DropinErrors.secretMissing();
    return this.d.secret;
  }
}
