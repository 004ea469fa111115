import type { DialCallStatus } from './timeline';

/** One injectable REST fault. */
export interface FaultSpec {
  /** answer with this HTTP status (Twilio error JSON) instead of doing the work */
  status?: number;
  /** wait this long before answering (and, without `status`, before doing the work) */
  delayMs?: number;
  /** apply to this many requests, then clear itself; unset = until the test clears it */
  times?: number;
  /**
   * let this many matching requests through first (the second of two pauses fails: `after: 1`),
   * whichever recording each names, so a test need not know the order they come in
   */
  after?: number;
}

/**
 * What the party a <Dial> calls does (tools/emulator/dial.ts). The emulator runs calls in
 * compressed time, so ringing and talking last `secondMs` each emulated second.
 */
export interface DialOutcome {
  /**
   * `completed`: answers after `ringSeconds` and talks `talkSeconds`, then hangs up; one that
   * would ring for the <Dial timeout> or longer is `no-answer` instead. `no-answer`: rings for
   * the whole <Dial timeout>. `busy`, `failed` (Twilio could not route to it: a number that
   * does not exist): at once. `canceled`: rings `ringSeconds`, then the dialled call is
   * canceled before it was answered.
   */
  status: DialCallStatus;
  ringSeconds?: number;
  talkSeconds?: number;
  /** only <Dial>s to this target (the noun's text: `alice` of <Client>, a number, a SIP URI); unset: every one */
  target?: string;
  /** how long an emulated second lasts here, in ms (default 1000, real time) */
  secondMs?: number;
}

/** Mutable fault injection; tests set and clear these while the emulator runs. */
export interface Faults {
  /** a recording update with Status=paused */
  recordingPause?: FaultSpec;
  /** a recording update with Status=in-progress */
  recordingResume?: FaultSpec;
  /** a recording update with Status=stopped */
  recordingStop?: FaultSpec;
  /** POST …/Recordings.json */
  recordingsCreate?: FaultSpec;
  /** GET …/Calls/{CA}/Recordings.json (the call's recordings, listed) */
  recordingsList?: FaultSpec;
  /** DELETE …/Recordings/{RE}.json (a recording deleted) */
  recordingDelete?: FaultSpec;
  /** POST …/Calls.json */
  callsCreate?: FaultSpec;
  /**
   * POST …/Calls.json, the call placed at once but its answer sent `delayMs` late (`status` is
   * not used): the call runs meanwhile, so its first requests (a <Start><Recording>'s status
   * callback) may reach the service before the REST answer that names the call, as Twilio's may
   */
  callsCreateAnswer?: FaultSpec;
  /** POST …/Calls/{CA}.json */
  callsUpdate?: FaultSpec;
  /** GET …/Calls/{CA}.json (a read of the call, its status) */
  callsFetch?: FaultSpec;
  /** GET /2010-04-01/Accounts/{AC}.json (the service's check of its REST configuration at start) */
  accountFetch?: FaultSpec;
  /** outbound calls created over REST are not answered: they end with this status */
  outboundCallOutcome?: 'busy' | 'no-answer' | 'failed';
  /** what a party a <Dial> calls does; unset: answers at once and hangs up at once (completed, 0 s) */
  dialOutcome?: DialOutcome;
  /**
   * every call's call-progress status callback (the call's StatusCallback) is sent this many ms
   * late: Twilio sends it on its own, with no order promised against the call's other requests,
   * so a test can have it come after what the call's end set off in the service
   */
  statusCallbackDelayMs?: number;
  /**
   * a stopped recording is processed this many ms (RECORDING_PROCESSING_MS by default): a test that
   * reads it while `processing` holds it there longer than a loaded host's REST round trip
   */
  recordingProcessingMs?: number;
}

export type RestFaultName =
  | 'recordingPause'
  | 'recordingResume'
  | 'recordingStop'
  | 'recordingsCreate'
  | 'recordingsList'
  | 'recordingDelete'
  | 'callsCreate'
  | 'callsCreateAnswer'
  | 'callsUpdate'
  | 'callsFetch'
  | 'accountFetch';

/** Returns the fault to apply to this request (if any), counting down `after`, then `times`. */
export function takeFault(faults: Faults, name: RestFaultName): FaultSpec | undefined {
  const fault = faults[name];
  if (!fault) return undefined;
  if (fault.after !== undefined && fault.after > 0) {
    faults[name] = { ...fault, after: fault.after - 1 };
    return undefined;
  }
  if (fault.times !== undefined) {
    if (fault.times <= 1) delete faults[name];
    else faults[name] = { ...fault, times: fault.times - 1 };
  }
  return fault;
}
