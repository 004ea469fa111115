/**
 * What the service's own <Gather> and guard actions carry in their query, for a webhook that
 * fails when the store, where the session lives, is what failed: a drop-in capture's return URL
 * and the app's recordings it holds paused (dropin/action-query.ts, `dc=`), or a plain call's
 * recordings its sensitive stretch holds paused (recording/stretch-query.ts, `rp=`), each with
 * the time it was written, `now`. Nothing otherwise: those actions are what they always were.
 */
import type { CallSession } from '../calls/session';
import { dropinQueryOf } from '../dropin/action-query';
import { stretchQueryOf } from '../recording/stretch-query';

export function actionQueryOf(s: CallSession, now: Date): string | undefined {
  return s.dropin ? dropinQueryOf(s, now) : stretchQueryOf(s, now);
}
