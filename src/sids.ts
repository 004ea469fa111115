/**
 * The shapes of the Twilio SIDs the service takes from outside (webhooks, the agent API and
 * socket, the environment), in one place. Twilio's own are two letters and 32 hex digits; the
 * contract names them only as `CA…` and `AC…`, and a Twilio emulator or test rig may issue
 * others. Letters and digits only, whatever the length: a CallSid goes into store keys
 * (store/keys.ts) and both go into REST paths, where a `:`, `/` or `*` could reach another key or
 * resource.
 */

/** a CallSid: CA and 1 to 62 letters or digits (64 in all, the bound every message schema keeps) */
export const CALL_SID = /^CA[0-9A-Za-z]{1,62}$/;

/** an AccountSid: AC and letters or digits */
export const ACCOUNT_SID = /^AC[0-9A-Za-z]+$/;

export function isCallSid(v: unknown): v is string {
  return typeof v === 'string' && CALL_SID.test(v);
}
