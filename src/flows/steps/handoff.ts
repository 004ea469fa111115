import { systemMessage } from '../prompt-defaults';
import type { Flow } from '../schema';
import type { Verb } from '../verbs';

/** what a caller hears when the bridge cannot be made safely (the recording could not be stopped, or another application's on the call paused) */
export const HANDOFF_REFUSED = systemMessage('handoff-refused');

/** in the flow's language */
export function refusedHandoffVerbs(flow: Pick<Flow, 'language'>): Verb[] {
  return [{ verb: 'say', text: systemMessage('handoff-refused', flow.language) }, { verb: 'hangup' }];
}

/** The end of the IVR: bridge (media relay with masking) or dial (plain <Dial>/<Enqueue>). */
export function handoffVerbs(flow: Flow): Verb[] {
  const verbs: Verb[] = [];
  if (flow.handoff.say) verbs.push({ verb: 'say', text: flow.handoff.say });
  verbs.push({ verb: 'handoff', handoff: flow.handoff });
  return verbs;
}
