/**
 * Runs a call through its flow at the Twilio webhook edge (it lives in twilio/, not flows/, so
 * that flows/ stays pure: engine, steps, schema, load): calls the pure engine, carries out the
 * effects it asks for (recording pause/resume, awaiting Twilio: effects.ts, stretch-recordings.ts),
 * encrypts valid values into the vault, saves the session, performs the handoff, and renders
 * TwiML. A new call's record is created with its trail by call-creation.ts.
 */
import type { Logger } from 'pino';
import type { CallControl } from '../calls/control';
import type { CallRepository } from '../calls/repository';
import { publicFields } from '../calls/public-fields';
import type { CallSession } from '../calls/session';
import type { EventBus } from '../bus';
import type { StreamTokens } from '../media/tokens';
import type { Metrics } from '../metrics';
import type { AuditInput, AuditTrail } from '../audit';
import type { RecordingController } from '../recording/controller';
import type { Store } from '../store';
import { callStartedEntry, createCall } from './call-creation';
import { carryOut, type EffectDeps } from './effects';
import { StretchRecordings } from './stretch-recordings';
import { renderVerbs } from './twiml';
import { Openings, type CallStart, type Opening } from './opening';
import type { Vault } from '../vault';
import { actionQueryOf } from './action-query';
import { dropinFlow, endOfCapture, interruptedEnding, INTERRUPT_KEY } from '../dropin/outcome';
import type { DropinService } from '../dropin/service';
import type { PausingRequest } from '../dropin/held-pauses';
import { advance, RESUME_HOLD_MS, type EngineInput, type EngineResult, type Verb } from '../flows/engine';
import type { FlowRegistry } from '../flows/load';
import { applyVaultOps, firstEntry } from '../flows/matching';
import type { Flow } from '../flows/schema';
import { isCollect } from '../flows/schema';
import { guardAfter } from '../flows/steps/collect';
import { FlowErrors } from '../errors';
import { errFields } from '../log';

export interface RunnerDeps {
  flows: FlowRegistry;
  calls: CallRepository;
  vault: Vault;
  recording: RecordingController;
  audit: AuditTrail;
  /** where a call's record and its trail's first entry are created together (start) */
  store: Store;
  events: EventBus;
  tokens: StreamTokens;
  metrics: Metrics;
  publicUrl: string;
  instanceId: string;
  subjectHash: (subject: string) => string;
  now?: () => Date;
  /** called after every saved session change (processor delivery watches for complete fields) */
  onSessionChanged?: (s: CallSession) => void;
  /** drop-in captures (issue 13): carries a capture's result back to the app that redirected here */
  dropin?: DropinService;
  /** Twilio's REST API on live calls: the recordings running on a call, listed before each sensitive stretch (stretch-recordings.ts pauseRecordings) */
  control?: CallControl;
  /**
   * A bridge lost with its instance is taken up by another (twilio/bridge-lost.ts): true on a
   * shared store. The embedded store's one instance has no other, so its caller streams have no
   * <Redirect> after <Connect> and a call ends with its stream, as Twilio ends a call whose TwiML runs out.
   */
  bridgeFailover?: boolean;
}

/**
 * Where a webhook's step writes. By default each write is made as the step comes to it (the
 * vault's envelopes, each audit entry, the session); a webhook whose replay claim read its call
 * defers them all to one atomic write with its answer (twilio/webhook-write.ts). A drop-in
 * capture's step that ends the capture is saved by its service (dropin/service.ts `end`: the
 * app's recordings resumed first, the answer known only after the processors answer): what the
 * step kept by then is made first (`flush`), so the trail keeps its order.
 */
export interface StepWrites {
  /** seals the engine's plain values into the vault (tokens onto the session) and erases what it drops */
  seal(res: EngineResult): Promise<void>;
  /** an audit entry of the step */
  audit(callSid: string, entry: AuditInput): Promise<void>;
  /** a single-use stream URL for the caller's leg of a bridge */
  streamUrl(grant: Parameters<StreamTokens['issue']>[0]): Promise<string>;
  /** the session `s` settled over the stored one (`basis`: as read), answered with `twiml`; then the entries `after` */
  save(basis: CallSession, s: CallSession, twiml: string, after: AuditInput[]): Promise<void>;
  /** a drop-in capture waits on its caller: its hang-up watch created, or renewed (dropin/hangup-watch.ts) */
  watch(callSid: string): Promise<void>;
  /** what was kept so far made now, before a write of someone else's (a drop-in capture's end) */
  flush(): Promise<void>;
}

/**
 * What a <Gather> action says: the engine's answer input (its step, attempt, keys, how the entry
 * ended, which Gather of the step), but for the first entry of a matching pair, which the runner
 * reads from the vault, maybe from `sealed`: envelopes already read, by token (the replay claim
 * read the first entry's: flows/matching.ts).
 */
export type Gathered = Omit<Extract<EngineInput, { kind: 'digits' }>, 'kind' | 'first'> & { sealed?: ReadonlyMap<string, string | null> };

export class FlowRunner {
  /** each write as the step comes to it */
  private readonly immediate: StepWrites;

  /** new calls' sessions and first TwiML (opening.ts) */
  private readonly openings: Openings;

  /** the recordings of a sensitive stretch, paused and resumed (stretch-recordings.ts) */
  private readonly stretches: StretchRecordings;

  /** what the engine's effects are carried out with (effects.ts) */
  private readonly effects: EffectDeps;

  constructor(private readonly d: RunnerDeps) {
    this.openings = new Openings({ vault: d.vault, subjectHash: d.subjectHash, publicUrl: d.publicUrl, now: () => this.now() });
    this.stretches = new StretchRecordings({ recording: d.recording, control: d.control, metrics: d.metrics, now: () => this.now() });
    this.effects = { recording: d.recording, control: d.control, metrics: d.metrics, dropin: d.dropin, stretches: this.stretches, now: () => this.now() };
    this.immediate = {
      seal: (res) => applyVaultOps(d.vault, res),
      audit: (callSid, entry) => d.audit.append(callSid, entry),
      streamUrl: async (grant) => (await d.tokens.issue(grant)).url,
      save: async (basis, s, _twiml, after) => {
        await this.save(basis, s);
        for (const entry of after) await d.audit.append(s.callSid, entry);
      },
      watch: async (callSid) => {
        await d.dropin?.watch(callSid);
      },
      flush: async () => {},
    };
  }

  private now(): Date {
    return this.d.now?.() ?? new Date();
  }

  /** the first webhook of a call: start its session (and recording) and return its first TwiML */
  async start(
    flow: Flow,
    p: CallStart,
    log: Logger,
    /** a drop-in capture's own session data (dropin/) */
    extra: Pick<Partial<CallSession>, 'dropin' | 'recording'> = {},
    /** the request starting a drop-in capture: the app's recordings it pauses are held as its own (dropin/held-pauses.ts) */
    pausedBy?: PausingRequest,
    /** the answer when the call's record exists already (another request created it first), instead of re-asking where it stands */
    ifKnown?: () => Promise<string>,
  ): Promise<string> {
    const opening = this.opening(flow, p, extra);
    const { session, created, trailed } = await createCall(this.d, flow, opening);
    if (!created) {
      if (ifKnown) return ifKnown();
      // the same call's first webhook again, with other parameters: re-ask where it stands
      return this.run(flow, session, { kind: 'resume' }, log, this.immediate, pausedBy);
    }
    this.d.metrics.callsStarted.inc();
    this.d.metrics.callsActive.inc();
    // a stored trail that is unreadable is evidence, never overwritten: the append fails, counted
    if (!trailed) await this.d.audit.append(p.callSid, callStartedEntry(flow));
    if (opening.twiml !== undefined) {
      this.d.onSessionChanged?.(session);
      return opening.twiml;
    }
    return this.run(flow, session, { kind: 'start', live: p.live }, log, this.immediate, pausedBy);
  }

  /** a call's new session, its caller's number sealed and, when the flow opens plainly, its first TwiML (opening.ts) */
  opening(flow: Flow, p: CallStart, extra: Pick<Partial<CallSession>, 'dropin' | 'recording'> = {}): Opening {
    return this.openings.opening(flow, p, extra);
  }

  /** a plain opening (`twiml` set) was written by twilio/first-webhook.ts: what start does after creating it */
  openedPlainly(session: CallSession): void {
    this.d.metrics.callsStarted.inc();
    this.d.metrics.callsActive.inc();
    this.d.onSessionChanged?.(session);
  }

  /** a <Gather> answered. `writes`: where the step writes (each write as it comes, unless the caller defers them) */
  async digits(session: CallSession, g: Gathered, log: Logger, writes: StepWrites = this.immediate): Promise<string> {
    const flow = this.flowOf(session);
    if (session.dropin && this.d.dropin && session.state === 'ivr' && g.digits.includes(INTERRUPT_KEY)) {
      const s = structuredClone(session);
      // the first entry of a matching pair waits sealed for a second that will not come now
      const sealed = s.pendingMatch?.token;
      s.pendingMatch = undefined;
      if (sealed) await this.forgetSealed(sealed);
      // the app's recordings resume as after any sensitive field: not while the caller may key on
      const ending = interruptedEnding(flow, s, g);
      if (ending === 'silence') return this.guardInterrupted(flow, session, s, log, writes);
      if (ending === 'count') await this.stretches.untilHeld(this.now().getTime() + RESUME_HOLD_MS);
      return this.d.dropin.end(flow, s, 'caller-interrupted', (next) => this.save(session, next), log);
    }
    const first = g.confirm ? await firstEntry(this.d.vault, flow, session, g.sealed) : undefined;
    const { sealed: _sealed, ...answer } = g;
    const input: EngineInput = { kind: 'digits', ...answer, first };
    return this.run(flow, session, input, log, writes);
  }

  /**
   * A guard ended (flows/steps/collect.ts guardAfter): the caller has been silent for as long as
   * the field waited. The call goes on from where it stands (the recording resumed first); what
   * the guard gathered is not passed in, never read.
   */
  async guarded(session: CallSession, log: Logger, writes: StepWrites = this.immediate): Promise<string> {
    const flow = this.flowOf(session);
    if (session.dropin?.interrupted && this.d.dropin && session.state === 'ivr') {
      return this.d.dropin.end(flow, structuredClone(session), 'caller-interrupted', (next) => this.save(session, next), log);
    }
    return this.run(flow, session, { kind: 'resume' }, log, writes);
  }

  /**
   * `*` ended a capture's sensitive entry on the Gather's timeout: the caller may key on, so the
   * field's guard runs first, its recording still paused, and the capture ends once it has (guarded).
   */
  private async guardInterrupted(flow: Flow, basis: CallSession, s: CallSession, log: Logger, writes: StepWrites): Promise<string> {
    const step = flow.steps[s.step];
    if (!step || !isCollect(step)) throw FlowErrors.unsettled();
    s.dropin = { ...s.dropin!, interrupted: true };
    const twiml = renderVerbs([guardAfter(step, s)], { publicUrl: this.d.publicUrl, flow, actionQuery: actionQueryOf(s, this.now()) });
    await writes.watch(s.callSid);
    await writes.save(basis, s, twiml, []);
    this.d.onSessionChanged?.(s);
    log.info('drop-in capture interrupted: its guard runs before the return');
    return twiml;
  }

  /** erases a value sealed for a later step the call will never reach (the first entry of a matching pair) */
  async forgetSealed(token: string): Promise<void> {
    await this.d.vault.erase(token);
  }

  flowOf(session: CallSession): Flow {
    const flow = this.d.flows.byId(session.flowId);
    if (!flow) throw FlowErrors.notLoaded();
    return session.dropin ? dropinFlow(flow) : flow;
  }

  private async save(basis: CallSession, s: CallSession): Promise<void> {
    await this.d.calls.update(s.callSid, (stored) => settleInto(stored, s), { basis });
  }

  /**
   * A step, run. One that fails after it paused the call's recordings for a stretch (its write
   * refused: the store gone) never asks for the field it paused for: the caller hears the safe
   * apology instead (twilio/serving.ts), and the recordings would stay paused for whatever of
   * the call follows (a fixed dial handoff's conversation). So they are resumed first. A later
   * webhook of the stretch that fails resumes them from its action's query (stretch-rescue.ts);
   * a drop-in capture's rescue returns the call to its app and resumes the app's itself (dropin/).
   */
  private async run(flow: Flow, session: CallSession, input: EngineInput, log: Logger, writes: StepWrites, pausedBy?: PausingRequest): Promise<string> {
    const stretch: { paused?: CallSession } = {};
    try {
      return await this.runSteps(flow, session, input, log, writes, stretch, pausedBy);
    } catch (err) {
      const paused = stretch.paused;
      if (paused) {
        try {
          const outcome = await this.stretches.resumeRecordings(paused);
          log.warn(
            { resumed: outcome.ok, twilioStatus: outcome.twilioStatus },
            "the step failed after pausing the call's recordings: resumed, as nothing sensitive will be asked",
          );
        } catch (e) {
          // Twilio was asked, and may have resumed them; the audit entry (the store, as likely as not, is what failed) was not written
          log.warn({ err: errFields(e) }, "the step failed after pausing the call's recordings: their resume was asked, not audited");
        }
      }
      throw err;
    }
  }

  private async runSteps(
    flow: Flow,
    session: CallSession,
    input: EngineInput,
    log: Logger,
    writes: StepWrites,
    /** the session as this step's pause left it, until a resume: what to resume should the step fail */
    stretch: { paused?: CallSession },
    /** the request whose pauses of a drop-in capture's app recordings are held as its own (start) */
    pausedBy?: PausingRequest,
  ): Promise<string> {
    const verbs: Verb[] = [];
    const before = new Set(Object.keys(session.fields));
    let res = advance(flow, input, session, { now: this.now() });
    const resumeNotBefore = res.resumeNotBefore;
    // input for a call no longer in the IVR: answer harmlessly and write nothing (a save here
    // would overwrite what an agent changed since the session was read)
    if (res.noop) return renderVerbs(res.verbs, { publicUrl: this.d.publicUrl, flow, actionQuery: actionQueryOf(res.session, this.now()) });
    for (let guard = 0; ; guard++) {
      if (guard > 2 * flow.steps.length + 8) throw FlowErrors.unsettled();
      await writes.seal(res);
      verbs.push(...res.verbs);
      if (!res.effect) break;
      res = await carryOut(this.effects, res.effect, res.session, {
        flow,
        input,
        log,
        audit: (callSid, entry) => writes.audit(callSid, entry),
        stretch,
        pausedBy,
        resumeNotBefore,
      });
    }
    const s = res.session;
    // a recording started right after a sensitive field's count ended it: not before keys pressed past it
    if (verbs.some((v) => v.verb === 'start-recording')) await this.stretches.untilHeld(resumeNotBefore);
    await this.recordFieldOutcomes(flow, s, before, writes);
    if (s.dropin && this.d.dropin) {
      const ended = endOfCapture(flow, s, verbs);
      if (ended) {
        // the capture's end resumes the app's recordings: not before keys past a field's count are pressed
        await this.stretches.untilHeld(resumeNotBefore);
        await writes.flush();
        return this.d.dropin.end(flow, s, ended, (next) => this.save(session, next), log);
      }
      await writes.watch(s.callSid);
    }
    const handedOff = session.state === 'ivr' && verbs.some((v) => v.verb === 'handoff');
    const streamUrl = handedOff ? await this.prepareHandoff(flow, s, log, writes) : undefined;
    // the gathers carry what a failed one needs without the store: a drop-in capture's return, a stretch's paused recordings (action-query.ts)
    const streamNumber = streamUrl && this.d.bridgeFailover ? (s.handoff.streams ?? 1) : undefined;
    const twiml = renderVerbs(verbs, { publicUrl: this.d.publicUrl, flow, streamUrl, streamNumber, actionQuery: actionQueryOf(s, this.now()) });
    // the handoff's entry follows the save that hands the call off, as the offer does
    await writes.save(session, s, twiml, handedOff ? [{ type: 'handoff', mode: s.handoff.mode, state: s.state }] : []);
    this.d.onSessionChanged?.(s);
    if (handedOff && s.state === 'offered')
      await this.d.events.publish({ type: 'handoff.offered', callSid: s.callSid, from: s.fromMasked, fields: publicFields(s) });
    return twiml;
  }

  private async recordFieldOutcomes(flow: Flow, s: CallSession, before: Set<string>, writes: StepWrites): Promise<void> {
    for (const step of flow.steps) {
      if (!isCollect(step) || before.has(step.collect)) continue;
      const f = s.fields[step.collect];
      if (!f) continue;
      this.d.metrics.fieldsCollected.inc({ kind: f.kind, outcome: f.valid ? 'valid' : 'failed' });
      await writes.audit(s.callSid, {
        type: f.valid ? 'field.collected' : 'field.failed',
        field: step.collect,
        kind: f.kind,
        reason: f.reason,
      });
    }
  }

  private async prepareHandoff(flow: Flow, s: CallSession, log: Logger, writes: StepWrites): Promise<string | undefined> {
    if (flow.handoff.mode === 'dial') {
      // without `to`, offered to the connected agents as a bridge call is; the caller waits in a
      // hold loop (dial-offer.ts) until an accept moves their call to a <Dial> of the agent
      if (flow.handoff.to) s.state = 'dialed';
      else {
        s.state = 'offered';
        s.handoff.offeredAt = this.now().getTime();
        log.info({ state: s.state }, 'dial handoff offered');
      }
      return undefined;
    }
    s.instanceId = this.d.instanceId;
    s.state = flow.handoff.to ? 'bridging' : 'offered';
    const url = await writes.streamUrl({ callSid: s.callSid, leg: 'caller', instanceId: this.d.instanceId });
    log.info({ state: s.state }, 'bridge handoff prepared');
    return url;
  }
}

/**
 * This webhook's session written over the stored one, but for what others own and may have
 * changed while the webhook ran: the recording's SID and end as Twilio's callbacks reported
 * them, and the end of the call (a status callback). A plain overwrite lost both.
 */
export function settleInto(stored: CallSession, s: CallSession): void {
  const r = stored.recording;
  const fromTwilio = {
    ...(r.sid ? { sid: r.sid } : {}),
    ...(r.status === 'stopped' || r.status === 'absent' || r.status === 'failed' ? { status: r.status } : {}),
  };
  const ended = stored.state === 'ended' ? { state: stored.state, endedAt: stored.endedAt, endedFrom: stored.endedFrom } : {};
  Object.assign(stored, s, { recording: { ...s.recording, ...fromTwilio } }, ended);
}
