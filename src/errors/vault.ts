import { coded, codedWith } from './base';

/**
 * The vault's coded errors. Messages are fixed text: never a plain value, never key material,
 * never a token.
 */
export const VaultErrors = {
  /** VAULT_KEYS could not be parsed; `detail` says which entry and why, never its text. */
  keysInvalid: codedWith('TW_ERR_VAULT_KEYS_INVALID', 500, (detail: string) => `VAULT_KEYS: ${detail}`),
  /** The envelope is not `v1.<keyId>.<nonce>.<ciphertext+tag>` with canonical encodings. */
  envelopeInvalid: coded('TW_ERR_VAULT_ENVELOPE_INVALID', 'a vault envelope is malformed'),
  /** The envelope names a key id the ring does not hold (a key retired too early). */
  keyUnknown: coded('TW_ERR_VAULT_KEY_UNKNOWN', 'a vault envelope names an unknown key id'),
  /** GCM authentication failed: tampered nonce, ciphertext or tag, or another call's/field's value. */
  tampered: coded('TW_ERR_VAULT_TAMPERED', 'a vault value failed authentication'),
  tokenInvalid: coded('TW_ERR_VAULT_TOKEN_INVALID', 'a vault token is malformed', 400),
  optionsInvalid: codedWith('TW_ERR_VAULT_OPTIONS_INVALID', 500, (detail: string) => `vault options: ${detail}`),
} as const;
