/**
 * The app's recordings this process paused for a drop-in capture and has not resumed, by call:
 * what a step that fails after its own pause, before its TwiML could carry the SIDs in the gather
 * actions (action-query.ts), must resume (failure-return.ts returnAfterFailure). Only the request that
 * paused needs it, so an entry is forgotten after HELD_PAUSE_MS as well as when the recordings
 * are resumed or the capture returns or ends (perhaps on another instance, which this one never
 * hears of): the memory stays bounded by the pauses of the last minute.
 *
 * A pause is held with the request that made it, when that request's rescue must resume its own
 * pauses and nothing else (the capture route's: twilio/dropin-rescue.ts captureRescue). That
 * request carries nothing of the capture in it, so a copy of it sent again later (a proxy's log),
 * failing at the replay guard while the store is down, would otherwise resume the pauses a later
 * request of the same capture holds, under the keys of a later field.
 */

/**
 * How long a pause is remembered. Twilio waits 15 s for a webhook's answer: by then the request
 * that paused has answered (its gather actions carry the SIDs from there on) or been given up.
 */
export const HELD_PAUSE_MS = 60_000;

/** one request's handling, told apart by identity alone: the pauses it made (HeldPauses `by`) */
export interface PausingRequest {
  readonly route: string;
}

export class HeldPauses {
  /** by call, oldest first (a Map keeps insertion order; a call held again moves to the end) */
  private readonly held = new Map<string, { sids: readonly string[]; at: number; by?: PausingRequest }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** `by`: the request pausing, when its rescue may resume only its own pauses (read back by `by`) */
  hold(callSid: string, sids: readonly string[], by?: PausingRequest): void {
    const now = this.now();
    for (const [k, v] of this.held) {
      if (now - v.at < HELD_PAUSE_MS) break;
      this.held.delete(k);
    }
    this.held.delete(callSid);
    this.held.set(callSid, { sids, at: now, by });
  }

  /** the recordings held paused for the call, none once HELD_PAUSE_MS has passed */
  of(callSid: string): readonly string[] {
    const h = this.held.get(callSid);
    return h && this.now() - h.at < HELD_PAUSE_MS ? h.sids : [];
  }

  /** those held for the call that `request` paused: none once another request paused since, or HELD_PAUSE_MS has passed */
  by(callSid: string, request: PausingRequest): readonly string[] {
    return this.held.get(callSid)?.by === request ? this.of(callSid) : [];
  }

  /** `request`: only if what is held for the call is that request's */
  forget(callSid: string, request?: PausingRequest): void {
    if (request === undefined || this.held.get(callSid)?.by === request) this.held.delete(callSid);
  }

  clear(): void {
    this.held.clear();
  }

  get size(): number {
    return this.held.size;
  }
}
