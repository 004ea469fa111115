/**
 * The app's recordings this process paused for a drop-in capture and has not resumed, by call:
 * what a step that fails after its own pause, before its TwiML could carry the SIDs in the gather
 * actions (action-query.ts), must resume (service.ts returnAfterFailure). Only the request that
 * paused needs it, so an entry is forgotten after HELD_PAUSE_MS as well as when the recordings
 * are resumed or the capture returns or ends (perhaps on another instance, which this one never
 * hears of): the memory stays bounded by the pauses of the last minute.
 */

/**
 * How long a pause is remembered. Twilio waits 15 s for a webhook's answer: by then the request
 * that paused has answered (its gather actions carry the SIDs from there on) or been given up.
 */
export const HELD_PAUSE_MS = 60_000;

export class HeldPauses {
  /** by call, oldest first (a Map keeps insertion order; a call held again moves to the end) */
  private readonly held = new Map<string, { sids: readonly string[]; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  hold(callSid: string, sids: readonly string[]): void {
    const now = this.now();
    for (const [k, v] of this.held) {
      if (now - v.at < HELD_PAUSE_MS) break;
      this.held.delete(k);
    }
    this.held.delete(callSid);
    this.held.set(callSid, { sids, at: now });
  }

  /** the recordings held paused for the call, none once HELD_PAUSE_MS has passed */
  of(callSid: string): readonly string[] {
    const h = this.held.get(callSid);
    return h && this.now() - h.at < HELD_PAUSE_MS ? h.sids : [];
  }

  forget(callSid: string): void {
    this.held.delete(callSid);
  }

  clear(): void {
    this.held.clear();
  }

  get size(): number {
    return this.held.size;
  }
}
