/**
 * Where the vault keeps envelopes. The service's Store satisfies it (Redis or embedded); the
 * vault needs nothing more, so it can be tested with a map. Every value carries a TTL.
 */
export interface VaultBackend {
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<unknown>;
}

/** one write of the vault's: an envelope, its entry in the call's token index, an erasure (the store's StoreOp shapes) */
export type VaultWriteOp =
  { op: 'set'; key: string; value: string; ttlSeconds: number } | { op: 'sadd'; key: string; member: string; ttlSeconds: number } | { op: 'del'; key: string };

/**
 * A backend that can also keep the per-call index of tokens (`VaultOptions.callIndexKey`): the
 * envelope and its index entry are written in one atomic step.
 */
export interface IndexedVaultBackend extends VaultBackend {
  multi(ops: VaultWriteOp[]): Promise<void>;
  smembers(key: string): Promise<string[]>;
  /** seconds a key has left (-2 absent), for a subject access report's expiries; without it, none is reported */
  ttl?(key: string): Promise<number>;
}
