/**
 * A webhook after a call's first in two store round trips. Its replay claim reads the call's
 * session and audit trail with it (ReplayGuard.claim, `reads`); whatever the step then writes
 * goes into one atomic write with its answer (store.compareAndSetAll): the session by
 * compare-and-set over the one the claim read, the audit entries chained onto the trail by
 * compare-and-set, the vault's envelopes, a stream token, and the replay memory of the answer.
 * The general path took a round trip for each: the claim, the read, every vault write, every
 * audit append, the save and the remember (seven for a gather that collects a field and hands off).
 *
 * What the general path guarantees holds: the answer is remembered only with the writes that
 * produced it (together or not at all), so a replay gets it only once the step has landed, and a
 * copy arriving meanwhile waits on the claim; the trail cannot fork, as it is compared; and a
 * refusal (another writer changed the session or the trail since the claim) re-settles this
 * webhook's session onto the stored one (runner.ts settleInto) and re-chains its entries, as
 * `calls.update` and `audit.append` do.
 */
import { Errors, TwilioErrors } from '../errors';
import type { AuditInput, AuditTrail, PreparedEntry } from '../audit';
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import type { StreamTokens } from '../media/tokens';
import type { CasRecord, Store, StoreOp } from '../store';
import type { Vault } from '../vault';
import { matchToken, vaultOpsOf } from '../flows/matching';
import type { ReplayGuard, ReplayIdentity, StoredAnswer } from './replay';
import { settleInto, type StepWrites } from './runner';
import type { DropinService } from '../dropin/service';
import { TWIML_CONTENT_TYPE } from './twiml';

/**
 * Refusals mean another writer's change landed between the claim and this write (an agent, a
 * status callback, another instance): rare, so a few tries, pausing after the first ones, as
 * the audit trail's appends do.
 */
const WRITE_MAX_TRIES = 30;
const WRITE_RETRIES_WITHOUT_PAUSE = 3;
const WRITE_RETRY_BASE_MS = 2;

export interface WebhookWriteDeps {
  store: Store;
  calls: CallRepository;
  audit: AuditTrail;
  replay: ReplayGuard;
  vault: Vault;
  tokens: StreamTokens;
  /** drop-in captures: a capture's gather renews its hang-up watch in its write */
  dropin?: DropinService;
}

/** the call as a webhook's claim read it: its session record and audit trail (null: absent) */
export interface ReadCall {
  callSid: string;
  session: string | null;
  trail: string | null;
  /** vault envelopes the claim read too, by token (a matching pair's first entry: flows/matching.ts matchToken) */
  sealed: ReadonlyMap<string, string | null>;
  /** a drop-in capture's gather: its hang-up watch record as the claim read it (undefined: not read) */
  watch?: string | null;
}

/** what a gather's claim reads beyond the call: envelopes (vault tokens), and for a drop-in capture's gather its hang-up watch */
export interface AlsoRead {
  sealed?: readonly string[];
  watch?: boolean;
}

/** what a webhook writes over the call as stored (a fresh copy for each try): the session changed (undefined: left), audit entries, other writes */
export type CallChange = (stored: CallSession | null) => { session?: CallSession; audit: PreparedEntry[]; ops: StoreOp[] };

export class WebhookWrite {
  constructor(private readonly d: WebhookWriteDeps) {}

  /** the keys a webhook's replay claim reads for it: the call's session and audit trail, and what `also` names */
  reads(callSid: string, also: AlsoRead = {}): string[] {
    const watch = also.watch && this.d.dropin ? [this.d.dropin.watchKey(callSid)] : [];
    return [this.d.calls.recordKey(callSid), this.d.audit.trailKey(callSid), ...(also.sealed ?? []).map((t) => this.d.vault.keyOf(t)), ...watch];
  }

  /** the token the first entry of a matching pair at this step and attempt is sealed under (flows/matching.ts) */
  matchToken(callSid: string, step: number, attempt: number): string {
    return matchToken(this.d.vault, callSid, step, attempt);
  }

  /**
   * The call as the claim read it (`reads`, by key), reading here the session and trail if the
   * claim did not (a request without an identity); what else `also` names and the claim did not
   * read is left to its reader.
   */
  async load(callSid: string, reads: ReadonlyMap<string, string | null>, also: AlsoRead = {}): Promise<ReadCall> {
    const [session, trail] = await Promise.all(this.reads(callSid).map((k) => (reads.has(k) ? (reads.get(k) ?? null) : this.d.store.get(k))));
    const sealed = new Map<string, string | null>();
    for (const t of also.sealed ?? []) {
      const k = this.d.vault.keyOf(t);
      if (reads.has(k)) sealed.set(t, reads.get(k) ?? null);
    }
    const watchKey = this.d.dropin?.watchKey(callSid);
    const watch = watchKey !== undefined && reads.has(watchKey) ? { watch: reads.get(watchKey) ?? null } : {};
    return { callSid, session, trail, sealed, ...watch };
  }

  /**
   * A status callback's change to its call, its audit entries and its answer (204, remembered
   * for `identity`) in one write; `change` gets the call as stored (a fresh copy for each try),
   * changes it in place and says whether it did (`changed`), which entries follow it and which
   * vault values go with it (`forget`: their tokens).
   */
  async callback(
    callSid: string,
    identity: ReplayIdentity | null,
    reads: ReadonlyMap<string, string | null>,
    change: (stored: CallSession | null) => { changed?: boolean; audit?: AuditInput[]; forget?: string[] },
  ): Promise<{ remembered: StoredAnswer } | ''> {
    const answer: StoredAnswer = { status: 204, contentType: 'text/plain', body: '' };
    const remember = identity ? [this.d.replay.rememberOp(identity, answer)] : [];
    await this.commit(await this.load(callSid, reads), (stored) => {
      const c = change(stored);
      return {
        session: c.changed && stored ? stored : undefined,
        audit: (c.audit ?? []).map((e) => this.d.audit.prepare(e)),
        ops: [...(c.forget ?? []).map((t) => this.d.vault.eraseOp(t)), ...remember],
      };
    });
    return identity ? { remembered: answer } : '';
  }

  /**
   * A voice webhook that changes nothing on the call but its trail: its audit entries and its
   * TwiML answer (remembered for `identity`) in one write, on the call as the claim read it.
   */
  async answerWith(read: ReadCall, identity: ReplayIdentity | null, audit: AuditInput[], twiml: string): Promise<{ remembered: StoredAnswer } | string> {
    const answer: StoredAnswer = { status: 200, contentType: TWIML_CONTENT_TYPE, body: twiml };
    const remember = identity ? [this.d.replay.rememberOp(identity, answer)] : [];
    await this.commit(read, () => ({ audit: audit.map((e) => this.d.audit.prepare(e)), ops: remember }));
    return identity ? { remembered: answer } : twiml;
  }

  /**
   * The step's writes for the runner to defer (runner.ts StepWrites), remembering `identity`'s
   * answer with them when it saves; `answer` is set once they landed. `parsed`: the session the
   * claim read (`read.session`), parsed and not changed since, which the step's first write may
   * take as the stored one (`commit`).
   */
  deferred(read: ReadCall, identity: ReplayIdentity, parsed?: CallSession): DeferredStep {
    return new DeferredStep(this, this.d, read, identity, parsed);
  }

  /**
   * The change written in one atomic step, retried over what a refusal returns. `parsed`:
   * `read.session` parsed, an object no one else holds, which the first try takes as the stored
   * session instead of parsing it again (a second parse of the session was a gather's largest);
   * a try after a refusal parses what the refusal returned.
   */
  async commit(read: ReadCall, change: CallChange, parsed?: CallSession): Promise<void> {
    const { callSid } = read;
    let session = read.session;
    // the trail as read, unless this process appended since (a recording paused mid-step)
    let trail = this.d.audit.latest(callSid, read.trail);
    for (let attempt = 1; attempt <= WRITE_MAX_TRIES; attempt++) {
      const stored = session === null ? null : attempt === 1 && parsed ? parsed : this.d.calls.fromStored(session);
      const step = change(stored);
      const records: CasRecord[] = [];
      const ops: StoreOp[] = [];
      const saved = stored && session !== null ? this.d.calls.writeOf(session, stored, step.session) : { ops: [] };
      if (saved.record) records.push(saved.record);
      ops.push(...saved.ops);
      const chained = step.audit.length > 0 ? this.d.audit.chain(callSid, trail, step.audit) : undefined;
      if (chained) {
        records.push(chained.record);
        ops.push(...chained.ops);
      }
      ops.push(...step.ops);
      if (records.length === 0) {
        await this.d.store.multi(ops);
        return;
      }
      const res = await this.d.store.compareAndSetAll(records, ops);
      if (res.ok) {
        if (chained) this.d.audit.written(callSid, chained.record);
        return;
      }
      let i = 0;
      if (saved.record) session = res.current[i++];
      if (chained) trail = res.current[i++];
      if (attempt >= WRITE_RETRIES_WITHOUT_PAUSE) {
        await new Promise((r) => setTimeout(r, WRITE_RETRY_BASE_MS * attempt * (0.5 + Math.random())));
      }
    }
    throw Errors.conflict({ detail: 'too many concurrent webhook writes' });
  }
}

/** A step's writes kept for its save, which makes them all, with the answer remembered, in one write. */
export class DeferredStep implements StepWrites {
  private readonly ops: StoreOp[] = [];
  private readonly entries: PreparedEntry[] = [];
  /** the answer, remembered with the step's writes; unset until they landed (a step that saves nothing, e.g. a stale gather) */
  answer?: StoredAnswer;

  constructor(
    private readonly write: WebhookWrite,
    private readonly d: WebhookWriteDeps,
    private readonly read: ReadCall,
    private readonly identity: ReplayIdentity,
    /** the session as read, parsed: handed to the first write only (a write changes the object it is given) */
    private parsed?: CallSession,
  ) {}

  /** the parsed session for a write to take, once */
  private takeParsed(): CallSession | undefined {
    const parsed = this.parsed;
    this.parsed = undefined;
    return parsed;
  }

  async seal(res: Parameters<StepWrites['seal']>[0]): Promise<void> {
    this.ops.push(...vaultOpsOf(this.d.vault, res));
  }

  async audit(_callSid: string, entry: AuditInput): Promise<void> {
    this.entries.push(this.d.audit.prepare(entry));
  }

  async streamUrl(grant: Parameters<StepWrites['streamUrl']>[0]): Promise<string> {
    const { url, ops } = this.d.tokens.prepare(grant);
    this.ops.push(...ops);
    return url;
  }

  /** the watch renewed in the write when the claim read it in place; created now when it is not (or was not read) */
  async watch(callSid: string): Promise<void> {
    const dropin = this.d.dropin;
    const ops = dropin && this.read.watch !== undefined ? dropin.watchOps(callSid, this.read.watch) : undefined;
    if (ops) this.ops.push(...ops);
    else await dropin?.watch(callSid);
  }

  /** the writes kept so far, made now (entries chained by compare-and-set), without the session or the answer */
  async flush(): Promise<void> {
    const audit = this.entries.splice(0);
    const ops = this.ops.splice(0);
    if (audit.length === 0 && ops.length === 0) return;
    await this.write.commit(
      this.read,
      (stored) => {
        present(stored);
        return { audit, ops };
      },
      this.takeParsed(),
    );
  }

  async save(_basis: CallSession, s: CallSession, twiml: string, after: AuditInput[]): Promise<void> {
    const answer: StoredAnswer = { status: 200, contentType: TWIML_CONTENT_TYPE, body: twiml };
    const audit = [...this.entries, ...after.map((e) => this.d.audit.prepare(e))];
    const ops = [...this.ops, this.d.replay.rememberOp(this.identity, answer)];
    await this.write.commit(
      this.read,
      (stored) => {
        const current = present(stored);
        settleInto(current, s);
        return { session: current, audit, ops };
      },
      this.takeParsed(),
    );
    this.answer = answer;
  }
}

/**
 * The call's record as a step's write finds it, which must still be there. A gather's claim read
 * it; gone since (its caller's erasure, or its expiry), the step writes nothing at all: its
 * sealed values, vault index entries and remembered answer would outlive an erasure that already
 * swept the call, with no record to name them. The step fails as a gather for an unknown call does.
 */
function present(stored: CallSession | null): CallSession {
  if (!stored) throw TwilioErrors.gatherUnknownCall();
  return stored;
}
