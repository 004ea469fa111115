/**
 * The audit trail's MAC keys (chain.ts): a ring, as VAULT_KEYS and INSTANCE_MESSAGE_KEY are one.
 * The first key seals new entries; every key verifies the entries it sealed, found by the `kid`
 * each entry names. Rotate by putting a new key first and keeping the old ones for as long as
 * trails they sealed are retained (AUDIT_RETENTION_DAYS): a trail whose key left the ring can no
 * longer be checked, and says so (`unknown-key`), never passes as a key change.
 */
import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical';
import { AuditErrors } from './pii';

/** a domain label, so an actor digest is never the MAC of anything else the key seals */
const ACTOR_LABEL = 'tonewall audit actor';
/** 64 bits: no two of a contact centre's users share one by chance */
export const ACTOR_DIGEST_HEX = 16;

/** the HKDF label the MAC key is derived under from the configured secret */
const DERIVE_LABEL = 'tonewall audit v1';

/** The MAC key of the trail; `kid` is a short public name for it, stored in every entry. */
export class AuditKey {
  /**
   * The key the service seals with for one configured secret (a key of `AUDIT_KEY`, or a
   * `VAULT_KEYS` key's bytes when it is unset): HKDF-SHA256, no salt, its label, 32 bytes. An
   * assessor's offline check of an export (tools/cli/audit-verify.ts) derives it the same way.
   */
  static fromSecret(secret: string | Buffer): AuditKey {
    return new AuditKey(Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), DERIVE_LABEL, 32)));
  }

  readonly kid: string;
  /** a key object: an HMAC from it skips importing the key, a third of its cost */
  readonly #key: KeyObject;
  constructor(key: Buffer) {
    if (key.length < 32) throw AuditErrors.invalid('the audit key must be at least 32 bytes');
    this.#key = createSecretKey(Buffer.from(key));
    this.kid = createHmac('sha256', this.#key).update('tonewall audit key id').digest('hex').slice(0, 16);
    Object.freeze(this);
  }
  mac(callSid: string, fields: Record<string, unknown>): string {
    return createHmac('sha256', this.#key)
      .update(`${callSid}\n${canonicalJson(fields)}`, 'utf8')
      .digest('hex');
  }
  /**
   * The keyed digest naming a user in the trail (actor.ts): the same `sub` always gives the same
   * digest under this key, and nobody without the key can tell which `sub` it is.
   */
  actorDigest(sub: string): string {
    return createHmac('sha256', this.#key).update(`${ACTOR_LABEL}\n${sub}`, 'utf8').digest('hex').slice(0, ACTOR_DIGEST_HEX);
  }
}

/** The first key seals; each key verifies what it sealed. A key given twice is kept once. */
export class AuditKeyRing {
  readonly primary: AuditKey;
  readonly #byKid: ReadonlyMap<string, AuditKey>;

  constructor(keys: readonly AuditKey[]) {
    if (keys.length === 0) throw AuditErrors.invalid('the audit key ring is empty');
    const byKid = new Map<string, AuditKey>();
    for (const k of keys) if (!byKid.has(k.kid)) byKid.set(k.kid, k);
    this.primary = keys[0];
    this.#byKid = byKid;
    Object.freeze(this);
  }

  /** the key an entry's `kid` names, if it is in the ring */
  get(kid: unknown): AuditKey | undefined {
    return typeof kid === 'string' ? this.#byKid.get(kid) : undefined;
  }

  get kids(): string[] {
    return [...this.#byKid.keys()];
  }
}

/** a ring, or one key as a ring of one */
export function auditKeyRing(keys: AuditKey | AuditKeyRing): AuditKeyRing {
  return keys instanceof AuditKeyRing ? keys : new AuditKeyRing([keys]);
}
