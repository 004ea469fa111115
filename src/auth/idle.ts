/**
 * The service's own idle limit on a token (PCI DSS 8.2.8: a session idle longer than
 * AGENT_IDLE_TIMEOUT_SECONDS asks for the token again). The panel signs itself out after that
 * long without input, but a copy of its token, or a token another client holds, left unused,
 * stayed good until its exp: now the store keeps each token's last use, and a token unused for
 * longer than the limit is refused on every instance, as an expired one is.
 *
 * The record is filed by the digest a sign-out files the token by (auth/revocations.ts), never the
 * token or its `sub`, and read with the sign-out record in the same round trip. It holds the time
 * of the last use (this instance's clock, ms) and lives until the token's exp: a record that
 * lived only the idle limit would be gone both for a token left idle and for one never used, and
 * the idle one would then be taken as new. A token never used (no record) starts its clock at its
 * first use.
 *
 * A use is written at most once per IDLE_REFRESH_MAX_MS (a tenth of the limit when that is
 * shorter) per token, on whichever instance: the record read says when the last write was. The
 * limit is so kept on the strict side: a token can be refused up to that much before the limit
 * has passed since its very last use, never after.
 */
import type { Keys, Store } from '../store';

/** the most a token's recorded last use may lag its real one: a write per token per 30 s at most */
export const IDLE_REFRESH_MAX_MS = 30_000;

export interface TokenIdleOptions {
  /** AGENT_IDLE_TIMEOUT_SECONDS */
  idleSeconds: number;
  /** how long past its exp a token is still taken (auth/tokens.ts CLOCK_TOLERANCE_MS): the record lives as long */
  toleranceMs: number;
  now?: () => number;
}

export class TokenIdle {
  readonly idleMs: number;
  private readonly refreshMs: number;
  readonly now: () => number;

  constructor(
    private readonly store: Pick<Store, 'set'>,
    private readonly keys: Pick<Keys, 'tokenActive'>,
    private readonly opts: TokenIdleOptions,
  ) {
    this.idleMs = opts.idleSeconds * 1000;
    this.refreshMs = Math.min(IDLE_REFRESH_MAX_MS, this.idleMs / 10);
    this.now = opts.now ?? Date.now;
  }

  /** the record of the token filed under `digest` (auth/revocations.ts tokenDigest) */
  key(digest: string): string {
    return this.keys.tokenActive(digest);
  }

  /** idle: its last use, as the record read says, is further back than the limit. No record: never used, not idle */
  isIdle(record: string | null, now: number): boolean {
    if (record === null) return false;
    const last = Number(record);
    // a record that is no time (written by no version of this file) refuses rather than lets in
    return !Number.isFinite(last) || now - last > this.idleMs;
  }

  /** notes a use at `now`, unless the record read (`record`) holds one that recent already */
  async used(digest: string, record: string | null, exp: number, now: number): Promise<void> {
    if (record !== null && now - Number(record) < this.refreshMs) return;
    const ttlSeconds = Math.max(1, Math.ceil((exp * 1000 + this.opts.toleranceMs - now) / 1000));
    await this.store.set(this.key(digest), String(now), ttlSeconds);
  }
}
