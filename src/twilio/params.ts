import { z } from 'zod';
import { ACCOUNT_SID, CALL_SID } from '../sids';

/**
 * Twilio's form parameters: every value a string, or none at all (a repeated name, which
 * Twilio never sends, parses as a list). Checked by hand: it runs on every webhook, and
 * zod's record copied each pair through a parse context, a tenth of a new call's garbage.
 */
export function formParams(body: unknown): Record<string, string> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  for (const k in body) if (typeof (body as Record<string, unknown>)[k] !== 'string') return {};
  return body as Record<string, string>;
}

// the contract's `CA…` and `AC…` (sids.ts): a test rig's shorter SIDs are Twilio's as much as 32 hex digits
const callSid = z.string().regex(CALL_SID);
const accountSid = z.string().regex(ACCOUNT_SID);

// The webhook schemas drop what they do not name (zod's default): `.passthrough()` copied every
// other parameter Twilio sends (a dozen or more) into each parsed object, where no handler read
// one. A handler that needs another parameter names it here.

export const voiceParams = z.object({
  CallSid: callSid,
  AccountSid: accountSid,
  From: z.string().max(256).default(''),
  To: z.string().max(256).default(''),
  CallStatus: z.string().max(32).optional(),
});

/**
 * The most of a caller's keys a Gather's answer is read as: one more than any field takes (a
 * field's maxLength is at most 64). A <Gather> without numDigits takes keys without limit
 * (Twilio's docs: numDigits "unlimited"), so a longer entry is not refused (that was the
 * apology and a hangup) but cut to this, still too long for every field: asked again.
 */
export const DIGITS_READ_MAX = 65;

export const gatherParams = z.object({
  CallSid: callSid,
  AccountSid: accountSid,
  Digits: z
    .string()
    .default('')
    .transform((d) => d.slice(0, DIGITS_READ_MAX)),
  /** the key that ended the entry; '' when its count or its timeout did (absent: read as a timeout) */
  FinishedOnKey: z.string().max(8).optional(),
  To: z.string().max(256).default(''),
});

/** a guard's action (flows/steps/collect.ts guardAfter): what it gathered (Digits) is not even parsed */
export const guardParams = z.object({ CallSid: callSid, AccountSid: accountSid });

export const statusParams = z.object({ CallSid: callSid, AccountSid: accountSid, CallStatus: z.string().max(32) });

/**
 * The status callback of a handoff <Dial>'s party (dial-answered.ts): CallSid is the dialled
 * call's own, ParentCallSid the caller's, whose record it changes; `in-progress` says it answered.
 */
export const dialAnsweredParams = z.object({ CallSid: callSid, ParentCallSid: callSid, AccountSid: accountSid, CallStatus: z.string().max(32) });

export const recordingStatusParams = z.object({
  CallSid: callSid,
  AccountSid: accountSid,
  RecordingSid: z.string().max(64).optional(),
  RecordingStatus: z.string().max(32).optional(),
  /** Twilio's error for a recording it kept no file of (16101, 16102); '0' otherwise */
  ErrorCode: z
    .string()
    .regex(/^[0-9]{1,5}$/)
    .optional()
    .catch(undefined),
});

/**
 * The query the service puts on the recording status callbacks it asks for: which call's
 * recording (the caller's own, or the agent's call of the caller's bridge) and, for the
 * agent's, the caller's CallSid that names the session. Signed with the rest of the URL.
 */
export const recordingStatusQuery = z.object({
  leg: z.enum(['caller', 'agent']).default('caller'),
  call: callSid.optional(),
});

/**
 * the <Redirect> after a bridge's <Connect>, its stream ended (twilio/bridge-lost.ts): Twilio's call status says whether the call is
 * still up, and `To` (sent with every voice request) which flow's safe apology a call whose record is gone gets
 */
export const bridgeLostParams = z.object({
  CallSid: callSid,
  AccountSid: accountSid,
  CallStatus: z.string().max(32).optional(),
  To: z.string().max(256).optional(),
});

/** a dial offer's hold loop redirect (dial-offer.ts): the same few parameters a redirect carries */
export const dialHoldParams = bridgeLostParams;

/** the query on the agent leg's <Redirect> after its <Connect>: the caller's call whose bridge it belongs to, signed with the URL */
export const bridgeLostQuery = z.object({
  leg: z.enum(['caller', 'agent']).default('caller'),
  call: callSid.optional(),
  /** the caller's action passed on by a draining instance this many times, or the agent's wait asked again (twilio/bridge-lost.ts) */
  hop: z.coerce.number().int().min(1).max(32).optional(),
});

/** the query on a new call's first webhook passed on by a draining instance (twiml.ts passOnCallTwiml) */
export const voiceQuery = z.object({ hop: z.coerce.number().int().min(1).max(32).optional() });

export { TERMINAL_CALL_STATUSES } from '../calls/control';
