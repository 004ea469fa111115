/**
 * The REST operations on live calls that domain code needs (recording/ pauses and stops
 * recordings, media/ dials the agent leg and ends or redirects calls), named here so that the
 * domain never imports the Twilio edge: twilio/rest.ts's client (the `twilio` package's)
 * satisfies this structurally, and app.ts hands it in.
 */
export interface RecordingUpdate {
  status: 'paused' | 'in-progress' | 'stopped';
  pauseBehavior?: 'skip';
}

export interface CallControl {
  calls: {
    (callSid: string): {
      update(params: { twiml: string } | { status: 'completed' }): Promise<unknown>;
      /** the call's state now (dropin/ watches for a caller who hung up mid-capture) */
      fetch(): Promise<{ status: string }>;
      recordings: ((recordingSid: string) => { update(params: RecordingUpdate): Promise<{ sid: string }> }) & {
        /** the call's recordings, each with its status and how it was started (a drop-in finds every one the app runs; an IVR, any another application runs) */
        list(): Promise<Array<{ sid: string; status: string }>>;
      };
    };
    create(params: { to: string; from: string; twiml: string; statusCallback: string }): Promise<{ sid: string }>;
  };
}

/** Twilio's CallStatus values after which a call is over */
export const TERMINAL_CALL_STATUSES: ReadonlySet<string> = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

/** the HTTP status of a failed REST call, when Twilio answered at all */
export function restStatus(e: unknown): number | undefined {
  const s = (e as { status?: unknown })?.status;
  return typeof s === 'number' ? s : undefined;
}
