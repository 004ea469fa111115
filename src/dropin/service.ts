/**
 * Drop-in capture (issue 13): the end of a capture another app redirected here. The flow runner
 * runs its steps (recording paused and fail-closed, values into the vault); this service
 * decides nothing about them, it carries the result back:
 *
 * - the call is live: resume the app's recordings if this capture paused them, save, wait (bounded)
 *   for the processors that take these fields, and answer with a <Redirect> to the return URL
 *   carrying the signed result (result-signature.ts);
 * - the caller hung up (no further webhook comes from a Gather the caller left, and the call's
 *   status callback belongs to the app, so Twilio's call resource is polled while a capture runs,
 *   hangup-watch.ts, and tonewall's own status route reports too): the result `caller-hung-up` is
 *   POSTed to the return URL, signed in `X-Tonewall-Signature`, retried like a processor delivery
 *   (result-delivery.ts). Both live in the store, not in one instance: any instance polls a
 *   watched call and retries a pending POST, and an instance that stops leaves them to the others.
 */
import twilio from 'twilio';
import type { Logger } from 'pino';
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import type { Flow } from '../flows/schema';
import { errFields } from '../log';
import type { ProcessorConfig } from '../processors/config';
import type { DeliveryResult } from '../processors/delivery';
import type { Backoff } from '../processors/http';
import { readyFor } from '../processors/records';
import type { AuditSink, RecordingController, RecordingOutcome } from '../recording/controller';
import type { CallControl } from '../calls/control';
import type { Keys, Store } from '../store';
import { HangupWatch } from './hangup-watch';
import { resultParams, type CaptureResult } from './outcome';
import { RESULT_SCAN_MS, ResultDelivery } from './result-delivery';
import { signedReturnUrl } from './result-signature';
import { DropinErrors } from '../errors';

/**
 * How long a capture's last webhook waits for a processor's first answer. Twilio gives a webhook
 * 15 s; the pause and resume before it are bounded by 3 s each (recording/controller.ts).
 */
export const PROCESSOR_WAIT_MS = 8_000;
/** how often Twilio's call resource is read while a capture waits on the caller */
export const HANGUP_POLL_MS = 5_000;

export interface DropinDeps {
  /** where the hang-up watches and the pending result POSTs live, shared by every instance */
  store: Store;
  keys: Keys;
  calls: CallRepository;
  recording: RecordingController;
  audit: AuditSink;
  twilio: CallControl;
  processors: readonly ProcessorConfig[];
  secret?: string;
  log: Logger;
  onSessionChanged?: (s: CallSession) => void;
  /** the call leaves tonewall's hands (returned to the app, or hung up): the active-calls gauge */
  onLeft?: () => void;
  processorWaitMs?: number;
  /** HANGUP_POLL_MS unless a test shortens it; result POSTs are scanned for at least as often */
  pollMs?: number;
  /** the result POST's retries (processors/http.ts DEFAULT_BACKOFF unless a test shortens them) */
  backoff?: Backoff;
  fetchImpl?: typeof fetch;
}

type Save = (s: CallSession) => Promise<void>;

export class DropinService {
  private readonly waiters = new Map<string, (r: DeliveryResult) => void>();
  private readonly hangups: HangupWatch;
  private readonly results: ResultDelivery;

  constructor(private readonly d: DropinDeps) {
    const pollMs = d.pollMs ?? HANGUP_POLL_MS;
    this.hangups = new HangupWatch({
      store: d.store,
      keys: d.keys,
      calls: d.calls,
      twilio: d.twilio,
      log: d.log,
      pollMs,
      onEnded: async (callSid) => {
        await this.onPoll?.(callSid);
      },
    });
    this.results = new ResultDelivery({
      store: d.store,
      keys: d.keys,
      audit: d.audit,
      log: d.log,
      secret: () => this.secret(),
      backoff: d.backoff,
      fetchImpl: d.fetchImpl,
      scanMs: Math.min(pollMs, RESULT_SCAN_MS),
    });
  }

  get configured(): boolean {
    return typeof this.d.secret === 'string';
  }

  /**
   * The app's recordings on the call as the capture starts, from Twilio's list of them: every one
   * in progress is paused by its SID before a sensitive prompt and resumed after (Twilio allows
   * several on one call, and `Twilio.CURRENT` names only one of them); none in progress, nothing
   * to pause. A recording the app paused itself is left alone: never resumed by this capture.
   * When the list cannot be read, what runs is unknown: the capture asks nothing sensitive
   * (`unlisted`: its first pause fails closed) and touches no recording.
   */
  async appRecording(callSid: string, log: Logger): Promise<CallSession['recording']> {
    let running: string[];
    try {
      const listed = await this.d.twilio.calls(callSid).recordings.list();
      running = listed.filter((r) => r.status === 'in-progress').map((r) => r.sid);
    } catch (err) {
      log.warn({ err: errFields(err) }, "the call's recordings could not be listed: no sensitive field will be asked");
      await this.d.audit.append(callSid, { type: 'dropin.recording', running: 'unknown' });
      return { status: 'in-progress', unlisted: true };
    }
    const seen = running.length === 0 ? 'none' : running.length === 1 ? 'one' : 'several';
    if (running.length > 1) log.info({ recordings: running.length }, 'several recordings run on the call: each is paused');
    // for the assessor: which recordings the capture pauses (Twilio's SIDs, not personal data), or that none was running
    // an audit value holds at most AUDIT_SIDS_PER_ENTRY SIDs: a call running more gets an entry per group
    const groups = running.length === 0 ? [[]] : chunks(running, AUDIT_SIDS_PER_ENTRY);
    for (const [i, group] of groups.entries()) {
      await this.d.audit.append(callSid, {
        type: 'dropin.recording',
        running: seen,
        ...(running.length > 1 ? { recordings: running.length } : {}),
        ...(groups.length > 1 ? { part: i + 1, parts: groups.length } : {}),
        ...(group.length > 0 ? { recordingSids: group.join(',') } : {}),
        ...(running.length === 1 ? { recordingSid: running[0] } : {}),
      });
    }
    if (running.length === 0) return { status: 'none' };
    return { ...(running.length === 1 ? { sid: running[0] } : {}), sids: running, status: 'in-progress' };
  }

  /**
   * Pauses the app's recordings (each one appRecording found in progress), all or none: a pause
   * that fails resumes those already paused, and the outcome is that failure (fail closed).
   */
  async pauseApp(s: CallSession, log: Logger): Promise<RecordingOutcome> {
    const r = s.recording;
    if (r.unlisted) {
      log.warn({ reason: 'recordings-not-listed' }, 'recording pause failed: sensitive input is refused');
      await this.d.audit.append(s.callSid, { type: 'recording.pause-failed', reason: 'recordings-not-listed' });
      return { ok: false, twilioStatus: 'unlisted' };
    }
    // a session written before `sids` names its one recording in `sid` (or none: Twilio.CURRENT)
    return r.sids ? this.d.recording.pauseEach(s.callSid, r.sids) : this.d.recording.pause(s.callSid, r.sid);
  }

  /** resumes each recording pauseApp paused (none the app paused itself); ok when every one was */
  resumeApp(s: CallSession): Promise<RecordingOutcome> {
    const r = s.recording;
    return r.sids ? this.d.recording.resumeEach(s.callSid, r.sids) : this.d.recording.resume(s.callSid, r.sid);
  }

  /** the capture ended while the call is live: the TwiML that returns it, with the signed result */
  async end(flow: Flow, s: CallSession, result: CaptureResult, save: Save, log: Logger): Promise<string> {
    const dropin = s.dropin;
    if (!dropin) throw DropinErrors.notDropin();
    this.unwatch(s.callSid);
    if (s.recording.status === 'paused') {
      const resumed = await this.resumeApp(s);
      if (resumed.ok) s.recording.status = 'in-progress';
    }
    s.state = 'returned';
    dropin.result = result;
    const waits = result === 'success' ? this.awaitProcessors(flow, s) : [];
    await save(s);
    this.d.onLeft?.();
    this.d.onSessionChanged?.(s);
    const answers = await Promise.all(waits);
    if (answers.some((a) => !a.result?.ok)) {
      result = 'processor-error';
      await this.d.calls.update(s.callSid, (stored) => {
        if (stored.dropin) stored.dropin.result = result;
      });
    }
    const processors = answers.map((a) => ({ name: a.name, summary: a.result?.ok ? a.result.body : undefined }));
    await this.d.audit.append(s.callSid, { type: 'dropin.returned', flowId: flow.id, result });
    log.info({ result }, 'drop-in capture returned to the app');
    const params = resultParams(flow, s, result, processors);
    const r = new twilio.twiml.VoiceResponse();
    r.redirect({ method: 'POST' }, signedReturnUrl(dropin.returnUrl, params, this.secret()));
    return r.toString();
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
   * The call ended (its status callback, or a poll): a capture still running reports
   * `caller-hung-up`. Called again for the same call (the status callback after a poll, or a
   * watch whose instance stopped before the report was queued), it queues the report if it is
   * not yet, never a second one.
   */
  async callEnded(callSid: string, flowOf: (s: CallSession) => Flow | undefined): Promise<void> {
    let ended: CallSession | undefined;
    // the result set now, not by an earlier call whose report may still need queuing
    let resultSet = false;
    // ended here, not by tonewall's own status route (which counts the call out itself)
    let endedHere = false;
    await this.d.calls.update(callSid, (stored) => {
      if (stored.dropin?.result === 'caller-hung-up') ended = structuredClone(stored);
      if (!stored.dropin || stored.dropin.result) return false;
      stored.dropin.result = 'caller-hung-up';
      resultSet = true;
      endedHere = stored.state !== 'ended';
      if (endedHere) {
        stored.state = 'ended';
        stored.endedAt = Date.now();
      }
      ended = structuredClone(stored);
    });
    if (ended?.dropin) {
      if (endedHere) this.d.onLeft?.();
      const flow = flowOf(ended);
      if (flow) await this.report(flow, ended, ended.dropin.returnUrl, resultSet);
    }
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
    const key = `${callSid}:${processor}`;
    const w = this.waiters.get(key);
    if (w) {
      this.waiters.delete(key);
      w(result);
    }
  }

  /** stops the timers and waits for the polls and tries in flight; what is left stays in the store for the other instances */
  async close(): Promise<void> {
    await Promise.all([this.hangups.stop(), this.results.stop()]);
  }

  private onPoll?: (callSid: string) => Promise<void>;

  /** set by the app: what a poll that finds the call ended calls */
  setEndedHandler(handler: (callSid: string) => Promise<void>): void {
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

  /** one promise per processor that takes this flow's fields: its first answer, or none within the bound */
  private awaitProcessors(flow: Flow, s: CallSession): Promise<{ name: string; result?: DeliveryResult }>[] {
    const names = new Set(flow.steps.flatMap((st) => ('collect' in st ? [st.collect] : [])));
    return this.d.processors
      .filter((p) => p.fields.every((f) => names.has(f)) && readyFor(s, p))
      .map(
        (p) =>
          new Promise((resolve) => {
            const key = `${s.callSid}:${p.name}`;
            const timer = setTimeout(() => {
              this.waiters.delete(key);
              resolve({ name: p.name });
            }, this.d.processorWaitMs ?? PROCESSOR_WAIT_MS);
            this.waiters.set(key, (result) => {
              clearTimeout(timer);
              resolve({ name: p.name, result });
            });
          }),
      );
  }
}

/** 14 SIDs of 34 characters, comma-joined, fit the audit trail's 512-character values */
const AUDIT_SIDS_PER_ENTRY = 14;

function chunks<T>(all: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size));
  return out;
}
