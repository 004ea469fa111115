/**
 * What an IVR call's <Gather> and guard actions carry while a sensitive stretch holds its
 * recordings paused (the flow's own, and every other application's it found running,
 * twilio/runner.ts `pauseRecordings`): their SIDs, so that a later webhook of the stretch that
 * fails with the store down, where the session names them, can still resume them before the safe
 * answer (twilio/stretch-rescue.ts). Without it the call went on, to a fixed dial's human, with
 * its compliance recordings paused to its end.
 *
 * Twilio signs the whole URL, query included, and every webhook's signature is checked before
 * anything reads it (twilio/serving.ts), so the query is as authentic as the path. SIDs are not
 * personal data, and logs replace every query whole (log.ts `redactUrl`).
 *
 * One parameter: `rp=1.<SIDs>` (packed as recording/sid-pack.ts packs them), or `rp=1.current`
 * for the flow's own recording alone, paused as `Twilio.CURRENT` while its SID was not yet known
 * (no other is listed then: recording/stretch.ts). A drop-in capture's actions carry the app's
 * recordings in its own parameter instead (dropin/action-query.ts).
 */
import type { CallSession } from '../calls/session';
import { packSids, unpackSids } from './sid-pack';

/** the query parameter's name */
export const STRETCH_QUERY_PARAM = 'rp';
const VERSION = '1';
const CURRENT = 'current';

/** the recordings a stretch holds paused: by their SIDs, or the call's one recording as Twilio.CURRENT */
export type StretchHold = { sids: readonly string[] } | { current: true };

/** `rp=…` for a hold, or undefined when its SIDs cannot be carried (none, more than the bound, one that is not a recording's) */
export function encodeStretchQuery(hold: StretchHold): string | undefined {
  if ('current' in hold) return `${STRETCH_QUERY_PARAM}=${VERSION}.${CURRENT}`;
  if (hold.sids.length === 0) return undefined;
  const out = packSids(hold.sids);
  return 'packed' in out ? `${STRETCH_QUERY_PARAM}=${VERSION}.${out.packed}` : undefined;
}

/** the hold a request's query carries, or undefined: none, or not one this encoder wrote. `query`: Fastify's parsed query */
export function decodeStretchQuery(query: unknown): StretchHold | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const raw = (query as Record<string, unknown>)[STRETCH_QUERY_PARAM];
  if (typeof raw !== 'string') return undefined;
  const parts = raw.split('.');
  if (parts.length !== 2 || parts[0] !== VERSION) return undefined;
  if (parts[1] === CURRENT) return { current: true };
  const sids = unpackSids(parts[1]);
  return sids ? { sids } : undefined;
}

/**
 * What the call's recordings a plain call's session holds paused: those its stretch paused by
 * SID (kept named too while a resume of theirs failed), else the flow's own while paused, by its
 * SID or as Twilio.CURRENT. Undefined when it holds none.
 */
export function stretchHoldOf(s: CallSession): StretchHold | undefined {
  const r = s.recording;
  if (r.sids?.length) return { sids: r.sids };
  if (r.status !== 'paused') return undefined;
  return r.sid ? { sids: [r.sid] } : { current: true };
}

/** the query of a plain call's actions: its stretch's hold, or undefined (nothing held, or not carried: stretchHoldOf, encodeStretchQuery) */
export function stretchQueryOf(s: CallSession): string | undefined {
  const hold = stretchHoldOf(s);
  return hold && encodeStretchQuery(hold);
}
