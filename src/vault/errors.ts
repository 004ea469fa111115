import { Errors, TonewallError } from '../errors';

/**
 * The vault's coded errors. Messages are fixed text: never a plain value, never key material,
 * never a token. They are TonewallErrors so the edge handles them like every other coded error.
 */
export const VaultErrors = {
  /** VAULT_KEYS could not be parsed; `detail` says which entry and why, never its text. */
  keysInvalid: (detail: string) => new TonewallError('TW_ERR_VAULT_KEYS_INVALID', `VAULT_KEYS: ${detail}`, 500),
  /** The envelope is not `v1.<keyId>.<nonce>.<ciphertext+tag>` with canonical encodings. */
  envelopeInvalid: () => new TonewallError('TW_ERR_VAULT_ENVELOPE_INVALID', 'a vault envelope is malformed', 500),
  /** The envelope names a key id the ring does not hold (a key retired too early). */
  keyUnknown: () => new TonewallError('TW_ERR_VAULT_KEY_UNKNOWN', 'a vault envelope names an unknown key id', 500),
  /** GCM authentication failed: tampered nonce, ciphertext or tag, or another call's/field's value. */
  tampered: () => Errors.vaultTampered(),
  tokenInvalid: () => new TonewallError('TW_ERR_VAULT_TOKEN_INVALID', 'a vault token is malformed', 400),
  optionsInvalid: (detail: string) => new TonewallError('TW_ERR_VAULT_OPTIONS_INVALID', `vault options: ${detail}`, 500),
} as const;
