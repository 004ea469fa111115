/**
 * What an IVR call's <Gather> and guard actions carry while a sensitive stretch holds its
 * recordings paused (the flow's own, and every other application's it found running,
 * twilio/stretch-recordings.ts `pauseRecordings`): their SIDs, so that a later webhook of the
 * stretch that fails with the store down, where the session names them, can still resume them
 * before the safe answer (twilio/stretch-rescue.ts). Without it the call went on, to a fixed dial's human, with
 * its compliance recordings paused to its end.
 *
 * Twilio signs the whole URL, query included, and every webhook's signature is checked before
 * anything reads it (twilio/serving.ts), so the query is as authentic as the path. SIDs are not
 * personal data, and logs replace every query whole (log.ts `redactUrl`).
 *
 * Authentic is not fresh: Twilio's signature holds no time, and the replay guard that refuses a
 * resent request needs the store, which is down when this query is read. So the query carries
 * when it was written, and a rescue resumes nothing from one older than one ask of the stretch
 * can last (twilio/stretch-rescue.ts `STRETCH_QUERY_MAX_AGE_SECONDS`): a signed request captured
 * earlier in the call cannot resume its recordings while a later stretch asks for a card.
 *
 * One parameter: `rp=2.<issued>.<SIDs>` (issued: the Unix time in seconds, base36; the SIDs packed
 * as recording/sid-pack.ts packs them), or `rp=2.<issued>.current` for the flow's own recording
 * alone, paused as `Twilio.CURRENT` while its SID was not yet known (no other is listed then:
 * recording/stretch.ts). Version 1, written before the time was (`rp=1.<SIDs>`), is read only to
 * be refused as untimed: nothing tells its age, and taking it would keep the replay open for as
 * long as a call lasts. A drop-in capture's actions carry the app's recordings in its own
 * parameter instead (dropin/action-query.ts).
 */
import type { CallSession } from '../calls/session';
import { decodeIssued, encodeIssued } from './query-time';
import { packSids, unpackSids } from './sid-pack';

/** the query parameter's name */
export const STRETCH_QUERY_PARAM = 'rp';
const VERSION = '2';
/** the version written before the query carried its time: refused as untimed */
const UNTIMED_VERSION = '1';
const CURRENT = 'current';

/** the recordings a stretch holds paused: by their SIDs, or the call's one recording as Twilio.CURRENT */
export type StretchHold = { sids: readonly string[] } | { current: true };

/**
 * What a query this service wrote carries: the hold and when it was written (Unix seconds), or
 * `untimed`, one of version 1, written before the time was and so of no known age.
 */
export type StretchQuery = { hold: StretchHold; issuedAtSeconds: number } | { untimed: true };

/**
 * `rp=…` for a hold written at `issuedAt`, or undefined when its SIDs cannot be carried (none,
 * more than the bound, one that is not a recording's)
 */
export function encodeStretchQuery(hold: StretchHold, issuedAt: Date): string | undefined {
  const head = `${STRETCH_QUERY_PARAM}=${VERSION}.${encodeIssued(issuedAt)}`;
  if ('current' in hold) return `${head}.${CURRENT}`;
  if (hold.sids.length === 0) return undefined;
  const out = packSids(hold.sids);
  return 'packed' in out ? `${head}.${out.packed}` : undefined;
}

/** a query this service wrote (stretchQuery), or undefined: none, or not one an encoder here wrote. `query`: Fastify's parsed query */
export function decodeStretchQuery(query: unknown): StretchQuery | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const raw = (query as Record<string, unknown>)[STRETCH_QUERY_PARAM];
  if (typeof raw !== 'string') return undefined;
  const parts = raw.split('.');
  if (parts[0] === UNTIMED_VERSION) return parts.length === 2 && holdOf(parts[1]) ? { untimed: true } : undefined;
  if (parts.length !== 3 || parts[0] !== VERSION) return undefined;
  const issuedAtSeconds = decodeIssued(parts[1]);
  const hold = holdOf(parts[2]);
  return issuedAtSeconds !== undefined && hold ? { hold, issuedAtSeconds } : undefined;
}

function holdOf(part: string): StretchHold | undefined {
  if (part === CURRENT) return { current: true };
  const sids = unpackSids(part);
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

/** the query of a plain call's actions written at `now`: its stretch's hold, or undefined (nothing held, or not carried: stretchHoldOf, encodeStretchQuery) */
export function stretchQueryOf(s: CallSession, now: Date): string | undefined {
  const hold = stretchHoldOf(s);
  return hold && encodeStretchQuery(hold, now);
}
