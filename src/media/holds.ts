/**
 * A caller held for an agent (media/registry.ts): two timers per held call, nothing else. The
 * hold runs out after HOLD_TIMEOUT_MS (held-caller.ts apologises and ends the bridge), and
 * meanwhile the call's record is read again every HOLD_RECHECK_MS, one read at a time, for an
 * accept whose command never arrived. Cleared when the agent's stream starts, or the bridge ends
 * or is lost; set again when a cut-off agent leaves the caller holding once more.
 */

/**
 * A caller on hold whom no agent accepts, or whose agent never answers, is not left there: after
 * this long they hear an apology and the call ends cleanly (no dead air, no endless hold music).
 */
export const HOLD_TIMEOUT_MS = 3 * 60_000;

/**
 * While a caller holds, their record is read again this often: an accept whose `dial-agent` never
 * arrived (its instance gone between the record and the publish, a message pub/sub dropped) is
 * dialled from the record, as the command would have, instead of holding to the apology.
 * 2 s: a lost command costs the caller a couple of seconds more hold, each held caller one GET.
 */
export const HOLD_RECHECK_MS = 2_000;

export interface HoldActions {
  /** the hold ran out with no agent on the line */
  timedOut(callSid: string): Promise<void>;
  /** read the held caller's record again; the next read is set once this one settles */
  recheck(callSid: string): Promise<void>;
}

export class CallerHolds {
  private readonly timeouts = new Map<string, NodeJS.Timeout>();
  /** one per held call: the next read of its record */
  private readonly rechecks = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly timeoutMs: number,
    private readonly act: HoldActions,
  ) {}

  /** (re)starts the call's hold: its timeout from now, and its rereads */
  hold(callSid: string): void {
    this.clear(callSid);
    const timeout = setTimeout(() => {
      this.timeouts.delete(callSid);
      void this.act.timedOut(callSid);
    }, this.timeoutMs).unref();
    this.timeouts.set(callSid, timeout);
    this.scheduleRecheck(callSid);
  }

  clear(callSid: string): void {
    clearTimeout(this.timeouts.get(callSid));
    this.timeouts.delete(callSid);
    clearTimeout(this.rechecks.get(callSid));
    this.rechecks.delete(callSid);
  }

  /** the next read, none once the hold is cleared or set again (its timer no longer the call's) */
  private scheduleRecheck(callSid: string): void {
    const timer = setTimeout(() => {
      void this.act.recheck(callSid).finally(() => {
        if (this.rechecks.get(callSid) === timer) this.scheduleRecheck(callSid);
      });
    }, HOLD_RECHECK_MS).unref();
    this.rechecks.set(callSid, timer);
  }
}
