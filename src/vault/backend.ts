/**
 * Where the vault keeps envelopes. The service's Store satisfies it (Redis or embedded); the
 * vault needs nothing more, so it can be tested with a map. Every value carries a TTL.
 */
export interface VaultBackend {
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<unknown>;
}
