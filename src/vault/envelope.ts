import { createCipheriv, createDecipheriv } from 'node:crypto';
import { decodeB64urlStrict, encodeB64url } from './base64url';
import { VaultErrors } from './errors';
import type { KeyRing } from './keyring';
import { randomBytesPooled } from './random';

const ENVELOPE_VERSION = 'v1';
const CIPHER = 'aes-256-gcm';
/** 96-bit nonces: GCM's native size (NIST SP 800-38D §8.2), random per value. */
export const NONCE_BYTES = 12;
/** Full 128-bit tags; a shorter tag is refused rather than checked with less strength. */
export const TAG_BYTES = 16;

/**
 * The authenticated data: the caller's context plus the version and key id, so an envelope
 * cannot be re-labelled. The caller's `ad` binds it to one call and field.
 */
function aad(keyId: string, ad: string): Buffer {
  return Buffer.from(`${ENVELOPE_VERSION}.${keyId}.${ad}`, 'utf8');
}

/** Encrypt `plain` with the ring's primary key: `v1.<keyId>.<b64url nonce>.<b64url ct+tag>`. */
export function seal(keys: KeyRing, ad: string, plain: string): string {
  const { id, key } = keys.primary;
  const nonce = randomBytesPooled(NONCE_BYTES);
  const cipher = createCipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(id, ad));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return [ENVELOPE_VERSION, id, encodeB64url(nonce), encodeB64url(body)].join('.');
}

/** Decrypt an envelope sealed with `ad`; throws a coded error, never returns a forged value. */
export function open(keys: KeyRing, ad: string, envelope: string): string {
  const parts = envelope.split('.');
  if (parts.length !== 4 || parts[0] !== ENVELOPE_VERSION) throw VaultErrors.envelopeInvalid();
  const [, keyId, nonceText, bodyText] = parts;
  const nonce = decodeB64urlStrict(nonceText);
  const body = decodeB64urlStrict(bodyText);
  if (nonce?.length !== NONCE_BYTES || body === undefined || body.length < TAG_BYTES) {
    throw VaultErrors.envelopeInvalid();
  }
  const entry = keys.get(keyId);
  if (entry === undefined) throw VaultErrors.keyUnknown();

  const decipher = createDecipheriv(CIPHER, entry.key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(keyId, ad));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  const ciphertext = body.subarray(0, body.length - TAG_BYTES);
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    // Node's own message says nothing useful and the cause is not kept: one fixed code.
    throw VaultErrors.tampered();
  }
  return plain.toString('utf8');
}
