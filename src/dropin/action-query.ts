/**
 * What a drop-in capture's own <Gather> action URLs carry, so that a gather that fails can still
 * return the call to its app (dropin/service.ts `returnAfterFailure`) when the store, where the
 * session lives, is what failed: the return URL and the SIDs of the app's recordings the capture
 * holds paused. Neither is personal data (an allow-listed URL of the app's, Twilio's SIDs).
 *
 * Twilio signs the whole URL, query included, and every webhook's signature is checked before
 * anything reads it (twilio/serving.ts), so this query is as authentic as the path. The return URL
 * is checked against CAPTURE_RETURN_URLS again all the same before anything is sent to it.
 *
 * Authentic is not fresh: Twilio's signature holds no time, and the replay guard is in the store
 * that failed. So the query carries when it was written, and a rescue resumes nothing from one
 * older than one ask of the capture can last (twilio/dropin-rescue.ts
 * `DROPIN_QUERY_MAX_AGE_SECONDS`): a signed request captured earlier in the capture cannot resume
 * the app's recordings while a later field is keyed (recording/query-time.ts).
 *
 * One parameter, kept short (a <Gather> action is a URL Twilio fetches, and a call may run many
 * recordings): `dc=2.<issued>.<return URL>[.<SIDs>]`, issued the Unix time in seconds, base36,
 * the other parts base64url, the SIDs packed as recording/sid-pack.ts packs them. Version 1,
 * written before the time was (`dc=1.<return URL>[.<SIDs>]`), is read only to be refused as
 * untimed: nothing tells its age. Its return URL is still read, as the refusal returns the call
 * to the app all the same. A plain call's actions carry an IVR stretch's recordings instead, in a
 * parameter of their own (recording/stretch-query.ts; twilio/action-query.ts).
 */
import type { CallSession } from '../calls/session';
import { DropinErrors } from '../errors';
import { decodeIssued, encodeIssued } from '../recording/query-time';
import { canonicalBase64url, packSids, unpackSids } from '../recording/sid-pack';
import { MAX_RETURN_URL_LENGTH } from './return-urls';

export { MAX_ACTION_SIDS } from '../recording/sid-pack';

/** the query parameter's name */
export const ACTION_QUERY_PARAM = 'dc';
const VERSION = '2';
/** the version written before the query carried its time: refused as untimed */
const UNTIMED_VERSION = '1';

/** what a drop-in gather needs to return the call to the app without the store */
export interface ActionContext {
  returnUrl: string;
  /** the app's recordings the capture holds paused, to be resumed (each by its SID) */
  paused: string[];
}

/**
 * What a query this service wrote carries: the context and when it was written (Unix seconds),
 * or, for one of version 1 (written before the time was, so of no known age), the context alone,
 * `untimed`.
 */
export type ActionQuery = { context: ActionContext; issuedAtSeconds: number } | { context: ActionContext; untimed: true };

/** `dc=…` for a context written at `issuedAt`; throws on a SID that is not a recording's (encodeSids) */
export function encodeActionQuery(ctx: ActionContext, issuedAt: Date): string {
  const parts = [VERSION, encodeIssued(issuedAt), Buffer.from(ctx.returnUrl, 'utf8').toString('base64url')];
  if (ctx.paused.length > 0) parts.push(encodeSids(ctx.paused));
  return `${ACTION_QUERY_PARAM}=${parts.join('.')}`;
}

/**
 * What a gather's query carries, or undefined: none (a plain call), or not one this encoder (or
 * version 1's) wrote (another version, a time or part that is not canonical, a SID list that is
 * not whole SIDs, a parameter given twice). `query` is the request's parsed query (Fastify's).
 */
export function decodeActionQuery(query: unknown): ActionQuery | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const raw = (query as Record<string, unknown>)[ACTION_QUERY_PARAM];
  if (typeof raw !== 'string') return undefined;
  const [version, ...parts] = raw.split('.');
  if (version === UNTIMED_VERSION) {
    const context = contextOf(parts);
    return context && { context, untimed: true };
  }
  if (version !== VERSION) return undefined;
  const issuedAtSeconds = decodeIssued(parts[0] ?? '');
  const context = contextOf(parts.slice(1));
  return issuedAtSeconds !== undefined && context ? { context, issuedAtSeconds } : undefined;
}

/** the context in `<return URL>[.<SIDs>]`, or undefined */
function contextOf(parts: readonly string[]): ActionContext | undefined {
  if (parts.length < 1 || parts.length > 2) return undefined;
  const returnUrl = canonicalBase64url(parts[0])?.toString('utf8');
  if (!returnUrl || returnUrl.length > MAX_RETURN_URL_LENGTH) return undefined;
  if (parts.length === 1) return { returnUrl, paused: [] };
  const paused = unpackSids(parts[1]);
  return paused ? { returnUrl, paused } : undefined;
}

/**
 * The query of a drop-in capture's <Gather> actions written at `now`: its return URL, and its
 * recordings while it holds them paused; undefined for a call that is not a capture's.
 */
export function dropinQueryOf(s: CallSession, now: Date): string | undefined {
  if (!s.dropin) return undefined;
  const r = s.recording;
  const paused = r.status === 'paused' ? (r.sids ?? (r.sid ? [r.sid] : [])) : [];
  return encodeActionQuery({ returnUrl: s.dropin.returnUrl, paused }, now);
}

function encodeSids(sids: readonly string[]): string {
  const out = packSids(sids);
  if ('refused' in out) throw DropinErrors.actionSids({ detail: out.refused });
  return out.packed;
}
