/**
 * A data subject (a caller) is indexed by an HMAC of their E.164 number, never the number: the
 * store can find a caller's calls for access and erasure without holding who they are. The app
 * derives the key from SUBJECT_KEY (from AGENT_JWT_SECRET when that is unset) and passes it in.
 */
import { createHmac, type KeyObject } from 'node:crypto';

export const E164 = /^\+[1-9][0-9]{6,14}$/;

export function isE164(value: unknown): value is string {
  return typeof value === 'string' && E164.test(value);
}

/**
 * `secret`: the app's subject key (the bytes app.ts derives from SUBJECT_KEY or AGENT_JWT_SECRET),
 * best as a key object made once: an HMAC from one skips importing the key, a third of its cost
 */
export function subjectHash(secret: string | Buffer | KeyObject, e164: string): string {
  return createHmac('sha256', secret).update(e164, 'utf8').digest('hex');
}

export { CALLER_VAULT_FIELD } from '../calls/session';
