// The vault's coded errors live in the catalogue (errors/vault.ts); this keeps the vault's own import short.
export { VaultErrors } from '../errors';
