/**
 * What a drop-in capture's own <Gather> action URLs carry, so that a gather that fails can still
 * return the call to its app (dropin/service.ts `returnAfterFailure`) when the store, where the
 * session lives, is what failed: the return URL and the SIDs of the app's recordings the capture
 * holds paused. Neither is personal data (an allow-listed URL of the app's, Twilio's SIDs).
 *
 * Twilio signs the whole URL, query included, and every webhook's signature is checked before
 * anything reads it (twilio/routes.ts), so this query is as authentic as the path. The return URL
 * is checked against CAPTURE_RETURN_URLS again all the same before anything is sent to it.
 *
 * One parameter, kept short (a <Gather> action is a URL Twilio fetches, and a call may run many
 * recordings): `dc=1.<return URL>[.<SIDs>]`, each part base64url, the SIDs packed as
 * recording/sid-pack.ts packs them. A plain call's actions carry an IVR stretch's recordings
 * instead, in a parameter of their own (recording/stretch-query.ts; twilio/action-query.ts).
 */
import type { CallSession } from '../calls/session';
import { DropinErrors } from '../errors';
import { canonicalBase64url, packSids, unpackSids } from '../recording/sid-pack';
import { MAX_RETURN_URL_LENGTH } from './return-urls';

export { MAX_ACTION_SIDS } from '../recording/sid-pack';

/** the query parameter's name */
export const ACTION_QUERY_PARAM = 'dc';
const VERSION = '1';

/** what a drop-in gather needs to return the call to the app without the store */
export interface ActionContext {
  returnUrl: string;
  /** the app's recordings the capture holds paused, to be resumed (each by its SID) */
  paused: string[];
}

/** `dc=…` for a context; throws on a SID that is not a recording's (encodeSids) */
export function encodeActionQuery(ctx: ActionContext): string {
  const parts = [VERSION, Buffer.from(ctx.returnUrl, 'utf8').toString('base64url')];
  if (ctx.paused.length > 0) parts.push(encodeSids(ctx.paused));
  return `${ACTION_QUERY_PARAM}=${parts.join('.')}`;
}

/**
 * The context a gather's query carries, or undefined: none (a plain call), or not one this
 * encoder wrote (another version, a part that is not canonical base64url, a SID list that is not
 * whole SIDs, a parameter given twice). `query` is the request's parsed query (Fastify's).
 */
export function decodeActionQuery(query: unknown): ActionContext | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const raw = (query as Record<string, unknown>)[ACTION_QUERY_PARAM];
  if (typeof raw !== 'string') return undefined;
  const parts = raw.split('.');
  if (parts[0] !== VERSION || parts.length < 2 || parts.length > 3) return undefined;
  const returnUrl = canonicalBase64url(parts[1])?.toString('utf8');
  if (!returnUrl || returnUrl.length > MAX_RETURN_URL_LENGTH) return undefined;
  if (parts.length === 2) return { returnUrl, paused: [] };
  const paused = unpackSids(parts[2]);
  return paused ? { returnUrl, paused } : undefined;
}

/**
 * The query of a drop-in capture's <Gather> actions: its return URL, and its recordings while it
 * holds them paused; undefined for a call that is not a capture's.
 */
export function dropinQueryOf(s: CallSession): string | undefined {
  if (!s.dropin) return undefined;
  const r = s.recording;
  const paused = r.status === 'paused' ? (r.sids ?? (r.sid ? [r.sid] : [])) : [];
  return encodeActionQuery({ returnUrl: s.dropin.returnUrl, paused });
}

function encodeSids(sids: readonly string[]): string {
  const out = packSids(sids);
  if ('refused' in out) throw DropinErrors.actionSids({ detail: out.refused });
  return out.packed;
}
