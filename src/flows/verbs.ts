import type { CallSession } from '../calls/session';
import type { Handoff } from './schema';

/** What the caller is to hear or do next, before it is rendered as TwiML (twilio/twiml.ts). */
export type Verb =
  | { verb: 'say'; text: string }
  | {
      verb: 'gather';
      field: string;
      step: number;
      attempt: number;
      prompt: string;
      numDigits?: number;
      timeoutSeconds: number;
      /** asks for a value that no recording may hold */
      sensitive: boolean;
    }
  /** <Start><Recording>: the call's recording begins with this document */
  | { verb: 'start-recording' }
  | { verb: 'handoff'; handoff: Handoff }
  | { verb: 'hangup' };

export type Effect = { kind: 'pause-recording' } | { kind: 'resume-recording' } | { kind: 'stop-recording' };

/** a valid plain value the edge must encrypt into the vault, then forget */
export interface VaultWrite {
  field: string;
  value: string;
}

export interface EngineResult {
  session: CallSession;
  verbs: Verb[];
  vaultWrites: VaultWrite[];
  effect?: Effect;
  /**
   * The input changed nothing (a gather answer or a resume for a call no longer in the IVR):
   * the edge saves nothing, hands off nothing and answers with `verbs` (none) as they are.
   */
  noop?: true;
}
