import type { CallSession } from '../calls/session';
import type { PromptPart } from './prompts';
import type { Handoff } from './schema';

export type { PromptPart } from './prompts';

/** What the caller is to hear or do next, before it is rendered as TwiML (twilio/twiml.ts). */
export type Verb =
  /** language and voice: the step's; absent, the flow's */
  | { verb: 'say'; text: string; language?: string; voice?: string }
  | { verb: 'play'; url: string }
  | {
      verb: 'gather';
      field: string;
      step: number;
      attempt: number;
      /** what is said and played inside the <Gather>, in order */
      prompts: PromptPart[];
      /** the second entry of a requireMatchingInputs pair (its own action URL) */
      confirm?: true;
      /** asked again after a stray key ended it empty (CallSession.strayKey; its own action URL) */
      again?: true;
      numDigits?: number;
      timeoutSeconds: number;
      /** asks for a value that no recording may hold */
      sensitive: boolean;
    }
  /**
   * A <Gather> that says nothing and ends only on the caller's silence (`timeoutSeconds`), after
   * a sensitive field that ended on a timeout (flows/steps/collect.ts guardAfter); its action
   * goes on from `step`, the call's step after that field, and never reads what it gathered.
   * `failed`: a guard after a webhook of a sensitive stretch that failed (twilio/stretch-rescue.ts),
   * whose action resumes the stretch's recordings and answers the safe apology, never the flow
   */
  | { verb: 'guard'; step: number; timeoutSeconds: number; failed?: true }
  /** <Start><Recording>: the call's recording begins with this document */
  | { verb: 'start-recording' }
  | { verb: 'handoff'; handoff: Handoff }
  | { verb: 'hangup' };

export type Effect =
  | { kind: 'pause-recording' }
  /** not sent before the step's `resumeNotBefore`, when it has one (flows/steps/collect.ts, RESUME_HOLD_MS) */
  | { kind: 'resume-recording' }
  | { kind: 'stop-recording' }
  /** before a bridge: every other recording in progress on the caller's call paused for the bridge, all or none */
  | { kind: 'hold-recordings' };

/**
 * A valid plain value the edge must encrypt into the vault, then forget. `pending`: the first
 * entry of a requireMatchingInputs pair, whose token goes to `session.pendingMatch`, not to a
 * field.
 */
export interface VaultWrite {
  field: string;
  value: string;
  pending?: true;
}

export interface EngineResult {
  session: CallSession;
  verbs: Verb[];
  vaultWrites: VaultWrite[];
  /** vault tokens the edge must erase (a first entry that the second did not match) */
  vaultErases?: string[];
  effect?: Effect;
  /**
   * Epoch ms: no recording is resumed before then, by this step's resume effect or by the edge
   * (a drop-in capture that a failed field ends resumes the app's recordings)
   */
  resumeNotBefore?: number;
  /**
   * The input changed nothing (a gather answer or a resume for a call no longer in the IVR):
   * the edge saves nothing, hands off nothing and answers with `verbs` (none) as they are.
   */
  noop?: true;
}
