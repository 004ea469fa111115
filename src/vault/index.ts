export type { VaultBackend, VaultWriteOp } from './backend';
export { VaultErrors } from './errors';
export { KeyRing, type VaultKey, VAULT_KEY_BYTES, parseKeyRing, generateKeyRingText } from './keyring';
export { NONCE_BYTES, TAG_BYTES } from './envelope';
export { Vault, type VaultOptions, DEFAULT_VAULT_KEY_PREFIX, fieldAd, isVaultToken } from './vault';
