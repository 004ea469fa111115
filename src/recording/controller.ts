/**
 * Recording control over Twilio's REST API (recordings start in TwiML, with <Start><Recording>,
 * since Twilio refuses a REST start while an inbound call rings). A pause is only as good as Twilio's acknowledgement:
 * `pause` resolves ok only on Twilio's 2xx (or its not-found, below: no recording is active, so
 * nothing can be recorded) within PAUSE_ACK_TIMEOUT_MS; anything else is a failure and the caller
 * of `pause` must not ask for the sensitive field (fail closed). Every outcome goes into the call's
 * audit trail with Twilio's answer. What is done to several recordings at once (all or none,
 * each held, each resumed, all resumed after a failed webhook) is several.ts, through this
 * controller's `pause` and `resume`.
 *
 * A 404 is "absent" when it is Twilio's own not-found (its error JSON with code 20404) and the
 * REST configuration has been verified against Twilio (twilio/rest-check.ts). A bare 404 comes from
 * something that is not Twilio (a proxy, a wrong host), and before the check a 20404 may be
 * Twilio's answer to a path the configuration doubled or misnamed: either is taken as absent only
 * when a list of the call's recordings, through the same client, answers and shows none active
 * (`listedAbsent`); otherwise it is a failure, so a misconfigured client never makes every pause
 * "succeed", and a REST API that serves calls and recordings but not the account resource (an
 * emulator of a test's own) still has its 404s understood.
 */
import type { Logger } from 'pino';
import { type CallControl, restStatus } from '../calls/control';
import { isTonewallError, RecordingErrors } from '../errors';
import type { RecordingRef } from './stretch';
import * as several from './several';

/** how long to wait for Twilio to acknowledge a pause before giving up on the field (issue 3) */
export const PAUSE_ACK_TIMEOUT_MS = 3_000;
const CURRENT = 'Twilio.CURRENT';

export interface AuditSink {
  append(callSid: string, entry: { type: string; [k: string]: string | number | boolean | undefined }): Promise<void>;
}

export interface RecordingOutcome {
  ok: boolean;
  /** Twilio's HTTP status, or 'timeout' / 'network' ('unlisted': a drop-in that could not list the app's recordings asked Twilio nothing) */
  twilioStatus: string;
  recordingSid?: string;
  /** true when Twilio said no recording is active (its 404 with 20404, the REST configuration verified; or a 404 and a list with none active) */
  absent?: boolean;
  /** resumeAll: the recordings whose resume failed (each left paused) */
  failed?: readonly RecordingRef[];
  /**
   * a resume Twilio did not answer (a timeout, a broken connection) may still be carried out until
   * the REST client gives up on it: how long ago the latest such request was sent, when one was
   * (resumeAll: over all the recordings it resumed, as it returns; a pauseAll that failed: over the
   * resumes that undid the pauses before the failure)
   */
  unansweredSentMsAgo?: number;
}

export interface RecordingMetrics {
  pauseFailures: { inc(): void };
  /** a recording left paused: compliance recording of the rest of the call is at stake, not a value */
  resumeFailures: { inc(): void };
  pauses: { inc(labels: { outcome: string }): void };
  /** how long Twilio took to answer a pause or a resume (a resume's every try, in all) */
  updateSeconds?: { observe(labels: { action: string; outcome: string }, seconds: number): void };
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => {
      onTimeout();
      reject(RecordingErrors.timeout());
    }, ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/**
 * A resume Twilio refused without carrying it out is tried again within the resume's bound: its
 * 429 (too many concurrent requests on the account: "never processed and always safe to retry",
 * error 20429, as when many callers finish their card at once) and its 500 and 503 (a fault of its
 * own). Left paused, the recording would miss the rest of the call, and a resume sent twice changes
 * nothing. The REST client's own backoff is not used for resumes (twilio/rest.ts): it knows no
 * bound, and an unanswered resume must be over when the REST client gives up on it. Nothing else
 * is tried again: a timeout or a broken connection may still be carried out (a second request
 * would only stretch that), a 4xx will be refused again (21220: the call is over).
 */
const RESUME_RETRIED = new Set(['429', '500', '503']);
/** the waits before a resume's second, third and fourth tries, each with full jitter: ≤ 1.45 s in all */
const RESUME_RETRY_DELAYS_MS = [150, 400, 900] as const;
/** a try is not sent with less of the bound left than this: it could not be answered in time */
const RESUME_TRY_MIN_MS = 250;

/** Twilio gave no answer: it may carry the request out until the REST client gives up on it */
const unanswered = (twilioStatus: string): boolean => twilioStatus === 'timeout' || twilioStatus === 'network';

/** Twilio's error code for a resource that is not there (its error JSON's `code`) */
const TWILIO_NOT_FOUND = 20404;

/** Twilio's own not-found: a 404 whose body is Twilio's error JSON with 20404 (the twilio package's RestException `code`) */
export const isTwilioNotFound = (e: unknown): boolean => restStatus(e) === 404 && (e as { code?: unknown })?.code === TWILIO_NOT_FOUND;

/** the error code of Twilio's error JSON, when the body had a numeric one (nothing else of a body that may not be Twilio's is logged) */
const twilioCodeOf = (e: unknown): number | null => {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'number' ? code : null;
};

const describe = (e: unknown): string => {
  if (isTonewallError(e) && e.code === RecordingErrors.timeout.code) return 'timeout';
  const status = restStatus(e);
  return status ? String(status) : 'network';
};

/** a resume of a call's recording, from when it is asked for until Twilio answers or the REST client gives up */
interface InFlight {
  sid: string;
  settled: Promise<void>;
}

const settledOf = (p: Promise<unknown>): Promise<void> =>
  p.then(
    () => undefined,
    () => undefined,
  );

export class RecordingController {
  /**
   * Resumes still in flight, by call. A resume whose answer did not come within its bound is not
   * over: Twilio may still carry it out. Were the next pause sent alongside it, the late resume
   * could land after that pause (the next capture's, or the IVR's next sensitive field's) and
   * record the keys; so every update waits for the resumes before it on the same recording (or
   * on Twilio.CURRENT, which may be any of them), within its own bound. A late pause or stop
   * only records less, so nothing waits for those.
   */
  private readonly resuming = new Map<string, Set<InFlight>>();

  constructor(
    private readonly deps: {
      client: CallControl;
      /**
       * the client resumes go through (default: `client`): one that never sends a request again
       * on its own, so a resume Twilio did not answer is over when the REST client gives up on it
       */
      resumeClient?: CallControl;
      publicUrl: string;
      /**
       * true once the REST configuration was proven against Twilio (twilio/rest-check.ts); until
       * then no 404 is taken as a recording's absence
       */
      restVerified: () => boolean;
      audit: AuditSink;
      log: Logger;
      metrics?: RecordingMetrics;
      pauseTimeoutMs?: number;
    },
  ) {}

  /**
   * `auditCallSid`: whose audit trail records it (a bridge's agent call is audited on the caller's
   * call); `actor`: the person whose action it is part of (AuditTrail.actor: an agent's capture),
   * named on its entry; none for the service's own (a flow's stretch, a drop-in app's capture)
   */
  async pause(callSid: string, recordingSid?: string, auditCallSid = callSid, actor?: string): Promise<RecordingOutcome> {
    const started = performance.now();
    const outcome = await this.update(callSid, recordingSid, 'paused', this.deps.pauseTimeoutMs ?? PAUSE_ACK_TIMEOUT_MS);
    this.deps.metrics?.pauses.inc({ outcome: outcome.ok ? 'ok' : 'failed' });
    this.deps.metrics?.updateSeconds?.observe({ action: 'pause', outcome: outcome.ok ? 'ok' : 'failed' }, (performance.now() - started) / 1000);
    if (!outcome.ok) {
      this.deps.metrics?.pauseFailures.inc();
      this.deps.log.warn({ callSid, twilioStatus: outcome.twilioStatus }, 'recording pause failed: sensitive input is refused');
    }
    await this.audit(auditCallSid, outcome.ok ? 'recording.paused' : 'recording.pause-failed', outcome, 1, actor);
    return outcome;
  }

  /**
   * A sensitive stretch refused because the call's recordings could not be listed (recording/stretch.ts
   * knownRecordings): nothing was paused, and a recording nobody saw may run. Counted, logged and
   * audited as a failed pause is, since for the caller it is one: the field is not asked, the
   * capture not started (and TonewallRecordingPauseFailed pages).
   */
  async refuseUnlisted(callSid: string, auditCallSid = callSid, actor?: string): Promise<RecordingOutcome> {
    const outcome: RecordingOutcome = { ok: false, twilioStatus: 'unlisted' };
    this.deps.metrics?.pauses.inc({ outcome: 'failed' });
    this.deps.metrics?.pauseFailures.inc();
    this.deps.log.warn({ callSid, twilioStatus: outcome.twilioStatus }, 'recording pause failed: sensitive input is refused');
    await this.deps.audit.append(auditCallSid, {
      type: 'recording.pause-failed',
      twilioStatus: outcome.twilioStatus,
      reason: 'recordings-not-listed',
      ...(actor ? { actor } : {}),
    });
    return outcome;
  }

  /**
   * Resumes the recording, trying again within PAUSE_ACK_TIMEOUT_MS what Twilio refused without
   * carrying it out (RESUME_RETRIED). Audited once, with Twilio's last answer and the tries (and
   * `actor`, as pause's).
   */
  async resume(callSid: string, recordingSid?: string, auditCallSid = callSid, actor?: string): Promise<RecordingOutcome> {
    const started = performance.now();
    const { outcome, tries } = await this.resumeWithin(callSid, recordingSid);
    this.deps.metrics?.updateSeconds?.observe({ action: 'resume', outcome: outcome.ok ? 'ok' : 'failed' }, (performance.now() - started) / 1000);
    if (!outcome.ok) {
      this.deps.metrics?.resumeFailures.inc();
      this.deps.log.warn({ callSid, twilioStatus: outcome.twilioStatus, tries }, 'recording resume failed: it stays paused');
    }
    await this.audit(auditCallSid, outcome.ok ? 'recording.resumed' : 'recording.resume-failed', outcome, tries, actor);
    return outcome;
  }

  private async resumeWithin(callSid: string, recordingSid: string | undefined): Promise<{ outcome: RecordingOutcome; tries: number }> {
    const bound = performance.now() + PAUSE_ACK_TIMEOUT_MS;
    // in flight from the first try to the last: a pause sent between two tries would be overtaken by the next
    let done!: () => void;
    const own = this.track(callSid, recordingSid ?? CURRENT, new Promise<void>((resolve) => (done = resolve)));
    try {
      for (let tries = 1; ; tries++) {
        const sentAt = performance.now();
        const outcome = await this.update(callSid, recordingSid, 'in-progress', bound - sentAt, own);
        if (unanswered(outcome.twilioStatus)) return { outcome: { ...outcome, unansweredSentMsAgo: performance.now() - sentAt }, tries };
        const delay = RESUME_RETRY_DELAYS_MS[tries - 1];
        if (outcome.ok || !RESUME_RETRIED.has(outcome.twilioStatus) || delay === undefined) return { outcome, tries };
        const wait = Math.random() * delay;
        if (bound - performance.now() - wait < RESUME_TRY_MIN_MS) return { outcome, tries };
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    } finally {
      done();
    }
  }

  /** pauseAll over one call's recordings (a drop-in capture pauses each the app runs), all or none: a failure resumes those already paused */
  pauseEach(callSid: string, recordingSids: readonly string[]): Promise<RecordingOutcome> {
    return this.pauseAll(recordingSids.map((recordingSid) => ({ callSid, recordingSid })));
  }

  /** resumes every recording named, each tried; ok only when all were (one that failed stays paused) */
  resumeEach(callSid: string, recordingSids: readonly string[]): Promise<RecordingOutcome> {
    return this.resumeAll(recordingSids.map((recordingSid) => ({ callSid, recordingSid })));
  }

  /** pauseEach over recordings on several calls, all or none: several.ts pauseAll */
  pauseAll(recordings: readonly RecordingRef[], auditCallSid?: string, actor?: string): Promise<RecordingOutcome> {
    return several.pauseAll(this, this.deps.log, recordings, auditCallSid, actor);
  }

  /** pauses every recording named, each on its own, and resumes none whatever follows (a bridge's hold): several.ts holdEach */
  holdEach(recordings: readonly RecordingRef[], auditCallSid: string, actor?: string): Promise<several.Held> {
    return several.holdEach(this, this.deps.log, recordings, auditCallSid, actor);
  }

  /** resumeEach over recordings on several calls (pauseAll's), each tried; ok only when all were: several.ts resumeAll */
  resumeAll(recordings: readonly RecordingRef[], auditCallSid?: string, actor?: string): Promise<RecordingOutcome> {
    return several.resumeAll(this, recordings, auditCallSid, actor);
  }

  /** what a webhook that failed held paused, resumed all at once before its answer, never thrown: several.ts resumeAfterFailure */
  resumeAfterFailure(callSid: string, recordingSids: readonly (string | undefined)[], log: Logger): Promise<boolean> {
    return several.resumeAfterFailure(this, callSid, recordingSids, log);
  }

  /**
   * Ends the recording for good (a bridge handoff: from then on the agent's call is recorded,
   * after masking). Should Twilio refuse or not answer, the recording is paused with skip
   * instead, and never resumed; ok when either took. Not ok means it may still be recording.
   */
  async stop(callSid: string, recordingSid?: string): Promise<RecordingOutcome> {
    const stopped = await this.update(callSid, recordingSid, 'stopped', PAUSE_ACK_TIMEOUT_MS);
    if (stopped.ok) {
      await this.audit(callSid, 'recording.stopped', stopped);
      return stopped;
    }
    this.deps.log.warn({ callSid, twilioStatus: stopped.twilioStatus }, 'recording stop failed: pausing it for good instead');
    const paused = await this.update(callSid, recordingSid, 'paused', this.deps.pauseTimeoutMs ?? PAUSE_ACK_TIMEOUT_MS);
    if (!paused.ok) {
      this.deps.metrics?.pauseFailures.inc();
      this.deps.log.warn({ callSid, twilioStatus: paused.twilioStatus }, 'recording could be neither stopped nor paused');
    }
    await this.audit(callSid, paused.ok ? 'recording.held-paused' : 'recording.stop-failed', paused);
    return paused;
  }

  /** every pause, resume and stop goes into the call's audit trail with Twilio's answer, and the person it was done for */
  private audit(callSid: string, type: string, o: RecordingOutcome, tries = 1, actor?: string): Promise<void> {
    return this.deps.audit.append(callSid, {
      type,
      recordingSid: o.recordingSid,
      twilioStatus: o.twilioStatus,
      absent: o.absent,
      ...(tries > 1 ? { tries } : {}),
      ...(actor ? { actor } : {}),
    });
  }

  /** a resume, kept in `resuming` until Twilio answered it or the REST client gave up on it */
  private track(callSid: string, sid: string, request: Promise<unknown>): InFlight {
    const resumes = this.resuming.get(callSid) ?? new Set<InFlight>();
    this.resuming.set(callSid, resumes);
    const entry: InFlight = { sid, settled: settledOf(request) };
    resumes.add(entry);
    void entry.settled.then(() => {
      resumes.delete(entry);
      if (resumes.size === 0 && this.resuming.get(callSid) === resumes) this.resuming.delete(callSid);
    });
    return entry;
  }

  private async update(
    callSid: string,
    recordingSid: string | undefined,
    status: 'paused' | 'in-progress' | 'stopped',
    timeoutMs: number,
    /** a resume's tries (resumeWithin): not waited for by its own */
    own?: InFlight,
  ): Promise<RecordingOutcome> {
    const sid = recordingSid ?? CURRENT;
    const params = status === 'paused' ? { status, pauseBehavior: 'skip' as const } : { status };
    const resumes = this.resuming.get(callSid);
    const ahead = [...(resumes ?? [])].filter((f) => f !== own && (f.sid === sid || f.sid === CURRENT || sid === CURRENT)).map((f) => f.settled);
    let expired = false;
    const client = status === 'in-progress' ? (this.deps.resumeClient ?? this.deps.client) : this.deps.client;
    const send = () => client.calls(callSid).recordings(sid).update(params);
    try {
      const request = ahead.length
        ? Promise.all(ahead).then(() => {
            // one whose bound passed while it waited is never sent: its caller took it as failed
            if (expired) throw RecordingErrors.timeout();
            return send();
          })
        : send();
      if (status === 'in-progress') this.track(callSid, sid, request);
      const rec = await withTimeout(request, timeoutMs, () => {
        expired = true;
      });
      return { ok: true, twilioStatus: '200', recordingSid: rec.sid };
    } catch (e) {
      const twilioStatus = describe(e);
      if (twilioStatus !== '404') return { ok: false, twilioStatus, recordingSid };
      if (isTwilioNotFound(e) && this.deps.restVerified()) return { ok: true, twilioStatus, absent: true, recordingSid };
      if (await this.listedAbsent(callSid, recordingSid, timeoutMs)) {
        this.deps.log.info(
          { callSid, recordingSid, twilioCode: twilioCodeOf(e) },
          "a 404 on a recording update, and the call's recordings listed: none of them is active, so nothing can be recorded",
        );
        return { ok: true, twilioStatus, absent: true, recordingSid };
      }
      this.deps.log.warn(
        { callSid, recordingSid, twilioCode: twilioCodeOf(e), restVerified: this.deps.restVerified() },
        "a 404 not known to be Twilio's answer for a recording that is gone (no 20404, or the REST configuration not verified, and the call's recordings not listed without an active one): taken as a failure",
      );
      return { ok: false, twilioStatus, recordingSid };
    }
  }

  /**
   * A 404 not proven to be Twilio's "gone" (the REST configuration not verified, or no 20404)
   * is taken as absent only when the call's recordings, listed through the same client, show
   * that nothing is active: `recordingSid` neither in progress nor paused, or for Twilio.CURRENT
   * no recording in progress or paused. A client pointed at the wrong place cannot list the
   * call's recordings either (the doubled path, the proxy's 404, another account's path): the
   * list fails and so does the update. A list that shows the recording running (a proxy that
   * answers only the updates itself) fails it too.
   */
  private async listedAbsent(callSid: string, recordingSid: string | undefined, timeoutMs: number): Promise<boolean> {
    let listed: Array<{ sid: string; status: string }>;
    try {
      listed = await withTimeout(this.deps.client.calls(callSid).recordings.list(), timeoutMs, () => undefined);
    } catch (e) {
      this.deps.log.warn({ callSid, twilioStatus: describe(e) }, "the call's recordings could not be listed after a 404 on a recording update");
      return false;
    }
    if (!Array.isArray(listed)) return false;
    const active = listed.filter((r) => r.status === 'in-progress' || r.status === 'paused');
    return recordingSid ? !active.some((r) => r.sid === recordingSid) : active.length === 0;
  }
}
