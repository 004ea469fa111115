import { type KeyObject, createSecretKey, randomBytes } from 'node:crypto';
import { decodeB64Strict, decodeB64urlStrict } from './base64url';
import { VaultErrors } from './errors';

/** AES-256 needs exactly 32 bytes of key. */
export const VAULT_KEY_BYTES = 32;

/** Key ids go into every envelope between dots, so they are short and dot-free. */
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export interface VaultKey {
  readonly id: string;
  /** A KeyObject, not a Buffer: it never prints or serialises its bytes by accident. */
  readonly key: KeyObject;
}

/**
 * The vault's keys: the first encrypts, every one decrypts. Rotate by putting a new key first
 * and keeping the old ones until every value they sealed has expired (VAULT_TTL_SECONDS).
 */
export class KeyRing {
  readonly primary: VaultKey;
  readonly #byId: ReadonlyMap<string, VaultKey>;

  constructor(keys: readonly VaultKey[]) {
    if (keys.length === 0) throw VaultErrors.keysInvalid('no keys');
    const byId = new Map<string, VaultKey>();
    for (const k of keys) {
      if (byId.has(k.id)) throw VaultErrors.keysInvalid('duplicate key id');
      byId.set(k.id, k);
    }
    this.primary = keys[0];
    this.#byId = byId;
    Object.freeze(this);
  }

  get(id: string): VaultKey | undefined {
    return this.#byId.get(id);
  }

  get ids(): string[] {
    return [...this.#byId.keys()];
  }

  /** Logs and JSON show the ids only. */
  toJSON(): { ids: string[]; primary: string } {
    return { ids: this.ids, primary: this.primary.id };
  }
}

function parseKeyBytes(text: string): Buffer | undefined {
  // Standard padded base64 is what `openssl rand -base64 32` prints; base64url is accepted too.
  return decodeB64Strict(text) ?? decodeB64urlStrict(text.replace(/=+$/, ''));
}

/**
 * Parse `id:base64(32 bytes)[,id:…]`. Whitespace around entries is ignored. Errors name
 * VAULT_KEYS and the entry's position, never any of its text.
 */
export function parseKeyRing(text: string): KeyRing {
  if (text.trim() === '') throw VaultErrors.keysInvalid('is empty');
  const entries = text.split(',').map((e) => e.trim());
  const keys: VaultKey[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const where = `entry ${i + 1}`;
    if (entry === '') throw VaultErrors.keysInvalid(`${where} is empty`);
    const colon = entry.indexOf(':');
    if (colon < 0) throw VaultErrors.keysInvalid(`${where} is not id:base64`);
    const id = entry.slice(0, colon).trim();
    const material = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) throw VaultErrors.keysInvalid(`${where} has an invalid id (1-32 of A-Z a-z 0-9 _ -)`);
    if (seen.has(id)) throw VaultErrors.keysInvalid(`${where} repeats an earlier key id`);
    seen.add(id);
    const bytes = parseKeyBytes(material);
    if (bytes === undefined) throw VaultErrors.keysInvalid(`${where} is not valid base64`);
    if (bytes.length !== VAULT_KEY_BYTES) {
      bytes.fill(0);
      throw VaultErrors.keysInvalid(`${where} is not ${VAULT_KEY_BYTES} bytes`);
    }
    keys.push({ id, key: createSecretKey(bytes) });
    bytes.fill(0);
  });
  return new KeyRing(keys);
}

/** A fresh one-key VAULT_KEYS text (for the demo and tests; production keys come from a KMS). */
export function generateKeyRingText(id = 'k1'): string {
  if (!KEY_ID.test(id)) throw VaultErrors.keysInvalid('generated key id is invalid');
  return `${id}:${randomBytes(VAULT_KEY_BYTES).toString('base64')}`;
}
