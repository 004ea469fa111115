/**
 * Recording SIDs packed into a <Gather> action's query, so that a gather that fails can resume
 * the recordings its call holds paused when the store, where the session names them, is what
 * failed: a drop-in capture's (dropin/action-query.ts) and an IVR stretch's
 * (recording/stretch-query.ts). A SID is Twilio's name for a recording, not personal data.
 *
 * Each SID's 32 hex digits as their 16 bytes, one after another, base64url: 22 characters a SID
 * instead of 34, none a proxy or Twilio would re-encode (which would break the signature). Read
 * back only in the one form this writes.
 */

/** a recording's SID: RE and 32 lower-case hex digits, as Twilio issues them */
const RECORDING_SID = /^RE[0-9a-f]{32}$/;
const SID_BYTES = 16;
/**
 * More than any call runs: a bound on what a decoder accepts and an action carries (64 SIDs are
 * 1,408 characters), not a limit on recordings. Twilio names no limit on an action URL's length;
 * a TwiML answer may be 64 kB (its error 11750), and a document holds one or two actions.
 */
export const MAX_ACTION_SIDS = 64;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** why SIDs cannot be packed */
export type PackRefusal = 'too many' | 'not a recording SID';

/** the SIDs as one base64url part, or why they cannot be (a SID that is not a recording's, more than MAX_ACTION_SIDS) */
export function packSids(sids: readonly string[]): { packed: string } | { refused: PackRefusal } {
  if (sids.length > MAX_ACTION_SIDS) return { refused: 'too many' };
  const bytes = Buffer.alloc(sids.length * SID_BYTES);
  for (const [i, sid] of sids.entries()) {
    if (!RECORDING_SID.test(sid)) return { refused: 'not a recording SID' };
    bytes.write(sid.slice(2), i * SID_BYTES, 'hex');
  }
  return { packed: bytes.toString('base64url') };
}

/** the SIDs a packed part holds, or undefined: not one packSids wrote (empty, not whole SIDs, too many, not canonical) */
export function unpackSids(part: string | undefined): string[] | undefined {
  const bytes = canonicalBase64url(part);
  if (!bytes || bytes.length === 0 || bytes.length % SID_BYTES !== 0 || bytes.length / SID_BYTES > MAX_ACTION_SIDS) return undefined;
  const sids: string[] = [];
  for (let i = 0; i < bytes.length; i += SID_BYTES) sids.push('RE' + bytes.subarray(i, i + SID_BYTES).toString('hex'));
  return sids;
}

/** base64url, only in the one form an encoder writes (Node's decoder skips what it cannot read) */
export function canonicalBase64url(part: string | undefined): Buffer | undefined {
  if (part === undefined || part.length === 0 || !BASE64URL.test(part)) return undefined;
  const bytes = Buffer.from(part, 'base64url');
  return bytes.toString('base64url') === part ? bytes : undefined;
}
