/**
 * A call's first webhook in one store round trip. Most flows open with words and a first prompt,
 * so the first answer is known before anything is written; then the replay record (holding that
 * answer), the call's session with its indexes and encrypted number, and the audit trail with
 * its `call.started` entry are created together, all or nothing (store.createAll). The general
 * path (replay claim, runner.start, which creates the record with its trail too, replay
 * remember) takes more round trips.
 *
 * Anything else takes the general path, which is what it was: a flow whose first step pauses,
 * captures or hands off, and any call one of whose records exists already (a retry or a replay
 * of this webhook, a concurrent copy that won, a trail that outlived an erasure). A duplicate
 * arriving after the one write finds the replay record holding the answer, as after a remember.
 */
import type { AuditTrail } from '../audit';
import type { CallRepository } from '../calls/repository';
import type { CallStart } from './opening';
import { callStartedEntry } from './call-creation';
import type { FlowRunner } from './runner';
import type { Flow } from '../flows/schema';
import type { Store } from '../store';
import type { ReplayGuard, ReplayIdentity, StoredAnswer } from './replay';
import { TWIML_CONTENT_TYPE } from './twiml';

export interface FirstWebhookDeps {
  store: Store;
  runner: FlowRunner;
  calls: CallRepository;
  audit: AuditTrail;
  replay: ReplayGuard;
}

export class FirstWebhook {
  constructor(private readonly d: FirstWebhookDeps) {}

  /**
   * The answer, written with everything the call starts with; null when this request must take
   * the general path. Throws only when the store does (the edge answers as for the replay guard).
   */
  async answer(id: ReplayIdentity, flow: Flow, call: CallStart): Promise<StoredAnswer | null> {
    const planned = this.plan(id, flow, call);
    if (!planned) return null;
    const { opening, answer, replay, session, trail } = planned;
    const res = await this.d.store.createAll([replay, session.record, trail.record], [...session.ops, ...trail.ops]);
    if (!res.created) return null;
    this.d.calls.created(opening.session, session.record);
    this.d.audit.opened(call.callSid, trail.record);
    this.d.runner.openedPlainly(opening.session);
    return answer;
  }

  private plan(id: ReplayIdentity, flow: Flow, call: CallStart) {
    // entries held for a retry (an append the store failed) go first: the general path chains them (audit/held.ts)
    if (this.d.audit.holds(call.callSid)) return null;
    try {
      const opening = this.d.runner.opening(flow, call);
      if (opening.twiml === undefined) return null;
      const answer: StoredAnswer = { status: 200, contentType: TWIML_CONTENT_TYPE, body: opening.twiml };
      return {
        opening,
        answer,
        replay: this.d.replay.answeredRecord(id, answer),
        session: this.d.calls.creation(opening.session, opening.also),
        trail: this.d.audit.firstEntry(call.callSid, callStartedEntry(flow)),
      };
    } catch {
      // the general path opens the call again, and answers this failure as a failed step
      return null;
    }
  }
}
