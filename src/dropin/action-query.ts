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
 * recordings): `dc=1.<return URL>[.<SIDs>]`, each part base64url, so no character in it is one a
 * proxy or Twilio would re-encode (which would break the signature). The SIDs part is each SID's
 * 32 hex digits as their 16 bytes, one after another: 22 characters a SID instead of 34.
 * Plain (non-drop-in) calls carry nothing: their action URLs are what they always were.
 */
import type { CallSession } from '../calls/session';
import { DropinErrors } from '../errors';
import { MAX_RETURN_URL_LENGTH } from './return-urls';

/** the query parameter's name */
export const ACTION_QUERY_PARAM = 'dc';
const VERSION = '1';
/** a recording's SID: RE and 32 lower-case hex digits, as Twilio issues them */
const RECORDING_SID = /^RE[0-9a-f]{32}$/;
const SID_BYTES = 16;
/** more than any call runs: a bound on what a decoder accepts, not a limit on recordings */
export const MAX_ACTION_SIDS = 64;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

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
  const returnUrl = decodePart(parts[1])?.toString('utf8');
  if (!returnUrl || returnUrl.length > MAX_RETURN_URL_LENGTH) return undefined;
  if (parts.length === 2) return { returnUrl, paused: [] };
  const sids = decodePart(parts[2]);
  if (!sids || sids.length === 0 || sids.length % SID_BYTES !== 0 || sids.length / SID_BYTES > MAX_ACTION_SIDS) return undefined;
  const paused: string[] = [];
  for (let i = 0; i < sids.length; i += SID_BYTES) paused.push('RE' + sids.subarray(i, i + SID_BYTES).toString('hex'));
  return { returnUrl, paused };
}

/**
 * The query of a session's <Gather> actions: a drop-in capture's return URL, and its recordings
 * while it holds them paused; undefined for a plain call.
 */
export function actionQueryOf(s: CallSession): string | undefined {
  if (!s.dropin) return undefined;
  const r = s.recording;
  const paused = r.status === 'paused' ? (r.sids ?? (r.sid ? [r.sid] : [])) : [];
  return encodeActionQuery({ returnUrl: s.dropin.returnUrl, paused });
}

function encodeSids(sids: readonly string[]): string {
  if (sids.length > MAX_ACTION_SIDS) throw DropinErrors.actionSids({ detail: 'too many' });
  const bytes = Buffer.alloc(sids.length * SID_BYTES);
  sids.forEach((sid, i) => {
    if (!RECORDING_SID.test(sid)) throw DropinErrors.actionSids({ detail: 'not a recording SID' });
    bytes.write(sid.slice(2), i * SID_BYTES, 'hex');
  });
  return bytes.toString('base64url');
}

/** base64url, only in the one form the encoder writes (Node's decoder skips what it cannot read) */
function decodePart(part: string | undefined): Buffer | undefined {
  if (part === undefined || part.length === 0 || !BASE64URL.test(part)) return undefined;
  const bytes = Buffer.from(part, 'base64url');
  return bytes.toString('base64url') === part ? bytes : undefined;
}
