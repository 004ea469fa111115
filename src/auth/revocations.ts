/**
 * Tokens signed out before their `exp` (`POST /v1/session/signout`, PCI DSS 8.2.8): a JWT stays
 * valid until then wherever a copy of it is, so the store files it as revoked, on every instance
 * at once, until its exp (and the clock tolerance a token is still taken within) has passed.
 *
 * A token is filed by a digest of its signed part (header and payload): never the token itself,
 * which would be a usable credential in Redis, nor its `sub`. The signed part names one token:
 * an HMAC signature is fixed by it, and a token whose signature was written another way (base64
 * has spare bits in its last character) has the same signed part, so it is refused as well.
 */
import { createHash } from 'node:crypto';
import type { Keys, Store } from '../store';
import { TokenIdle, type TokenIdleOptions } from './idle';

/** what the store says of a token that verified: good, signed out, or left unused past the idle limit (auth/idle.ts) */
export type TokenStanding = 'good' | 'revoked' | 'idle';

/** the digest a revoked token is filed and told to other instances under: SHA-256 of its signed part, base64url (43 characters) */
export function tokenDigest(token: string): string {
  const signed = token.slice(0, Math.max(0, token.lastIndexOf('.')));
  return createHash('sha256').update(`tonewall:token\0${signed}`, 'utf8').digest('base64url');
}

export class TokenRevocations {
  private readonly idle?: TokenIdle;

  constructor(
    private readonly store: Pick<Store, 'get' | 'getMany' | 'set'>,
    private readonly keys: Pick<Keys, 'revokedToken' | 'tokenActive'>,
    /** how long past its exp a token is still taken (auth/tokens.ts CLOCK_TOLERANCE_MS) */
    private readonly toleranceMs: number,
    /** the service's idle limit (app.ts always gives it); without it a token is never idle */
    idle?: Omit<TokenIdleOptions, 'toleranceMs'>,
  ) {
    this.idle = idle && new TokenIdle(store, keys, { ...idle, toleranceMs });
  }

  /** files the token as revoked until it would be refused anyway: its exp, plus the tolerance */
  async revoke(digest: string, exp: number, now = Date.now()): Promise<void> {
    const ttlSeconds = Math.max(1, Math.ceil((exp * 1000 + this.toleranceMs - now) / 1000));
    await this.store.set(this.keys.revokedToken(digest), '1', ttlSeconds);
  }

  /** one store read; a store that cannot answer throws (the request fails, it is not let through) */
  async isRevoked(digest: string): Promise<boolean> {
    return (await this.store.get(this.keys.revokedToken(digest))) !== null;
  }

  /**
   * Whether the token filed under `digest` was signed out or left idle: its two records read in
   * one round trip. `use`: the token is being used (a request, a socket's client message), so a
   * good one's idle clock starts again (a write at most now and then, auth/idle.ts); a check of an
   * open socket that sent nothing is no use. A store that cannot answer throws.
   */
  async standing(digest: string, exp: number, use: boolean): Promise<TokenStanding> {
    if (!this.idle) return (await this.isRevoked(digest)) ? 'revoked' : 'good';
    const [revoked, active] = await this.store.getMany([this.keys.revokedToken(digest), this.idle.key(digest)]);
    if (revoked !== null) return 'revoked';
    const now = this.idle.now();
    if (this.idle.isIdle(active, now)) return 'idle';
    if (use) await this.idle.used(digest, active, exp, now);
    return 'good';
  }
}
