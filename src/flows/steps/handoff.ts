import type { Flow } from '../schema';
import type { Verb } from '../verbs';

/** The end of the IVR: bridge (media relay with masking) or dial (plain <Dial>/<Enqueue>). */
export function handoffVerbs(flow: Flow): Verb[] {
  const verbs: Verb[] = [];
  if (flow.handoff.say) verbs.push({ verb: 'say', text: flow.handoff.say });
  verbs.push({ verb: 'handoff', handoff: flow.handoff });
  return verbs;
}
