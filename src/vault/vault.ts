import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import type { IndexedVaultBackend, VaultBackend, VaultWriteOp } from './backend';
import { open, seal } from './envelope';
import { VaultErrors } from './errors';
import type { KeyRing } from './keyring';
import { randomBytesPooled } from './random';

export type { IndexedVaultBackend, VaultBackend, VaultWriteOp } from './backend';

/** Token text: a fixed prefix so a token is recognisable in a record, then 192 random bits. */
const TOKEN_PREFIX = 'vt_';
const TOKEN_RANDOM_BYTES = 24;
const TOKEN = /^vt_[A-Za-z0-9_-]{32}$/;

export const DEFAULT_VAULT_KEY_PREFIX = 'tw:vault:';
/** what the key of slot tokens is derived for (HKDF's info), so it is no other key */
const SLOT_TOKEN_LABEL = 'tonewall vault slot tokens v1';

export interface VaultOptions {
  keys: KeyRing;
  /** VAULT_TTL_SECONDS: a captured value is gone this long after it was put. */
  ttlSeconds: number;
  backend: VaultBackend;
  keyPrefix?: string;
  /**
   * The store key of a call's token index. When set, `put` records every token it mints for the
   * call there (the backend must be an IndexedVaultBackend), so that an erasure finds values the
   * call record no longer names: a field captured again replaces its token on the record, but
   * the old value lives on in the vault until its TTL.
   */
  callIndexKey?: (callSid: string) => string;
}

/**
 * The associated data for one field of one call. JSON keeps the two parts apart, so the pair
 * (`CA1`, `a:b`) can never equal (`CA1:a`, `b`).
 */
export function fieldAd(callSid: string, field: string): string {
  return JSON.stringify(['tw-vault-field', callSid, field]);
}

export function isVaultToken(value: unknown): value is string {
  return typeof value === 'string' && TOKEN.test(value);
}

/**
 * Captured values, encrypted at rest under the key ring and handed around as opaque tokens.
 * The plain value leaves only through `get`, which the processor delivery uses.
 */
export class Vault {
  readonly #keys: KeyRing;
  readonly #ttlSeconds: number;
  readonly #backend: VaultBackend;
  readonly #keyPrefix: string;
  readonly #callIndexKey?: (callSid: string) => string;
  /** the key of `slotToken`, derived from the primary key: a rotation changes every slot's token */
  readonly #slotKey: KeyObject;

  constructor(opts: VaultOptions) {
    if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < 1) {
      throw VaultErrors.optionsInvalid('ttlSeconds must be a positive whole number');
    }
    this.#keys = opts.keys;
    this.#ttlSeconds = opts.ttlSeconds;
    this.#backend = opts.backend;
    this.#keyPrefix = opts.keyPrefix ?? DEFAULT_VAULT_KEY_PREFIX;
    this.#slotKey = createSecretKey(Buffer.from(hkdfSync('sha256', opts.keys.primary.key.export(), Buffer.alloc(0), SLOT_TOKEN_LABEL, 32)));
    if (opts.callIndexKey) {
      const b = opts.backend as Partial<IndexedVaultBackend>;
      if (typeof b.multi !== 'function' || typeof b.smembers !== 'function') {
        throw VaultErrors.optionsInvalid('callIndexKey needs a backend with multi and smembers');
      }
      this.#callIndexKey = opts.callIndexKey;
    }
    Object.freeze(this);
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  /** Encrypt and store `plain` for this call's field; returns an opaque random token (or `token`, a `slotToken`). */
  async put(callSid: string, field: string, plain: string, token?: string): Promise<string> {
    const { write, ...put } = this.prepare(callSid, field, plain, token);
    if (this.#callIndexKey) {
      await (this.#backend as IndexedVaultBackend).multi([{ op: 'set', ...write }, this.indexOp(callSid, put.token, write.ttlSeconds)]);
    } else {
      await this.#backend.set(write.key, write.value, write.ttlSeconds);
    }
    return put.token;
  }

  /**
   * `put` as the writes it makes (the envelope and, with a `callIndexKey`, the token's index
   * entry), for a caller that makes them in its own atomic write with the record naming the
   * token. Only the envelope leaves, never `plain`.
   */
  putOps(callSid: string, field: string, plain: string, token?: string): { token: string; ops: VaultWriteOp[] } {
    const { write, ...put } = this.prepare(callSid, field, plain, token);
    return { token: put.token, ops: [{ op: 'set', ...write }, ...(this.#callIndexKey ? [this.indexOp(callSid, put.token, write.ttlSeconds)] : [])] };
  }

  private indexOp(callSid: string, token: string, ttlSeconds: number): VaultWriteOp {
    return { op: 'sadd', key: this.#callIndexKey!(callSid), member: token, ttlSeconds };
  }

  /**
   * Erases every value `put` stored for the call (the call's token index) and the index itself.
   * Returns the tokens it erased (empty without a `callIndexKey`).
   */
  async eraseCall(callSid: string): Promise<string[]> {
    if (!this.#callIndexKey) return [];
    const backend = this.#backend as IndexedVaultBackend;
    const index = this.#callIndexKey(callSid);
    const tokens = (await backend.smembers(index)).filter(isVaultToken);
    await backend.multi([...tokens.map((t) => ({ op: 'del' as const, key: this.#storeKey(t) })), { op: 'del', key: index }]);
    return tokens;
  }

  /**
   * How many values `put` stored for the call are still held (not expired or erased), counted
   * from the call's token index (0 without a `callIndexKey`). Nothing is opened.
   */
  async heldFor(callSid: string): Promise<number> {
    if (!this.#callIndexKey) return 0;
    const backend = this.#backend as IndexedVaultBackend;
    const tokens = (await backend.smembers(this.#callIndexKey(callSid))).filter(isVaultToken);
    const held = await Promise.all(tokens.map(async (t) => (await backend.get(this.#storeKey(t))) !== null));
    return held.filter(Boolean).length;
  }

  /**
   * The values `put` stored for the call still held, each by its token and when it expires
   * (epoch ms; absent when the backend cannot say), for a subject access report: it says a
   * sealed value exists and until when, and nothing opens it. Empty without a `callIndexKey`.
   */
  async sealedFor(callSid: string): Promise<{ token: string; expiresAt?: number }[]> {
    if (!this.#callIndexKey) return [];
    const backend = this.#backend as IndexedVaultBackend;
    const tokens = (await backend.smembers(this.#callIndexKey(callSid))).filter(isVaultToken).sort();
    const now = Date.now();
    const held = await Promise.all(
      tokens.map(async (token) => {
        const key = this.#storeKey(token);
        if (backend.ttl) {
          const left = await backend.ttl(key);
          return left === -2 ? null : { token, ...(left >= 0 ? { expiresAt: now + left * 1000 } : {}) };
        }
        return (await backend.get(key)) === null ? null : { token };
      }),
    );
    return held.filter((h): h is { token: string; expiresAt?: number } => h !== null);
  }

  /**
   * `put` without the store write: the token and the envelope's write, for a caller that makes
   * it atomically with the record that names the token. Only the envelope leaves, never `plain`.
   */
  prepare(callSid: string, field: string, plain: string, token?: string): { token: string; write: { key: string; value: string; ttlSeconds: number } } {
    token ??= TOKEN_PREFIX + randomBytesPooled(TOKEN_RANDOM_BYTES).toString('base64url');
    const envelope = Vault.seal(this.#keys, fieldAd(callSid, field), plain);
    return { token, write: { key: this.#storeKey(token), value: envelope, ttlSeconds: this.#ttlSeconds } };
  }

  /**
   * The plain value, or null once it has expired or been erased. Throws a coded error when the
   * envelope was tampered with, belongs to another call or field, or names an unknown key.
   */
  async get(callSid: string, field: string, token: string): Promise<string | null> {
    return this.opened(callSid, field, await this.#backend.get(this.#storeKey(token)));
  }

  /**
   * A token named by what it holds rather than drawn at random: an HMAC of the call and `slot`
   * under a key of the vault's own, so that a caller knowing both can name the value's store key
   * (`keyOf`) before it reads the record that names the token, and no one without the key can.
   * A slot must name one value of the call (a later `put` to it replaces the earlier).
   */
  slotToken(callSid: string, slot: string): string {
    const mac = createHmac('sha256', this.#slotKey)
      .update(JSON.stringify([callSid, slot]))
      .digest();
    return TOKEN_PREFIX + mac.subarray(0, TOKEN_RANDOM_BYTES).toString('base64url');
  }

  /** the store key of a token's envelope, for a caller that reads it with other keys in one round trip (then `opened`) */
  keyOf(token: string): string {
    return this.#storeKey(token);
  }

  /** `get` of an envelope the caller read itself (`keyOf`); null stays null */
  opened(callSid: string, field: string, envelope: string | null): string | null {
    return envelope === null ? null : Vault.open(this.#keys, fieldAd(callSid, field), envelope);
  }

  async erase(token: string): Promise<void> {
    await this.#backend.del(this.#storeKey(token));
  }

  /** `erase` as a write, for a caller's own atomic write */
  eraseOp(token: string): VaultWriteOp {
    return { op: 'del', key: this.#storeKey(token) };
  }

  static seal(keys: KeyRing, ad: string, plain: string): string {
    return seal(keys, ad, plain);
  }

  static open(keys: KeyRing, ad: string, envelope: string): string {
    return open(keys, ad, envelope);
  }

  #storeKey(token: string): string {
    // Only tokens this class minted name a key: nothing else can steer reads into the store.
    if (!isVaultToken(token)) throw VaultErrors.tokenInvalid();
    return this.#keyPrefix + token;
  }

  /** Logs and JSON never show the keys or the backend. */
  toJSON(): { ttlSeconds: number; keys: ReturnType<KeyRing['toJSON']> } {
    return { ttlSeconds: this.#ttlSeconds, keys: this.#keys.toJSON() };
  }
}
