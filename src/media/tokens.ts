/**
 * Single-use media stream URLs. Twilio strips query strings from stream URLs, so the
 * unguessable part is a path segment: /media/<token>. The token is issued with the TwiML,
 * names the call, the leg and the instance that must relay it, and is taken (GETDEL) by the
 * first handshake that presents it: a reused or unknown token is refused. Each token is also
 * listed under its call (`keys.streamTokens`), so that an erasure of the caller removes the ones
 * Twilio never used (privacy/service.ts): a grant names its call.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Keys, Store, StoreOp } from '../store';

/** Twilio opens the stream within seconds of our TwiML; the token need not outlive that by much */
export const STREAM_TOKEN_TTL_SECONDS = 10 * 60;
const TOKEN_BYTES = 24;
/** a token's length in its URL (base64url, unpadded) */
export const TOKEN_CHARS = Math.ceil((TOKEN_BYTES * 4) / 3);

export const streamGrant = z.object({
  callSid: z.string(),
  leg: z.enum(['caller', 'agent']),
  instanceId: z.string(),
  /** agent leg: the caller's CallSid this leg bridges to */
  bridgeCallSid: z.string().optional(),
  agentSub: z.string().optional(),
  issuedAt: z.number(),
});
export type StreamGrant = z.infer<typeof streamGrant>;

export class StreamTokens {
  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly mediaPublicUrl: string,
  ) {}

  /** the wss:// (or ws://) origin of this instance's media endpoint */
  get origin(): string {
    return this.mediaPublicUrl.replace(/^http/, 'ws');
  }

  /**
   * The token written, then its call's record read: one whose record is gone (the caller erased
   * since the issuer read it: a take-up, an agent dialled, each from a record read before) is
   * withdrawn, as a capture record that outlived its call is (captures/records.ts `keep`), so it
   * does not name an erased call for its TTL; its URL then opens nothing. Written first, a token
   * whose record is still read here is on the call's list when the erasure sweeps it again after
   * the record's removal (privacy/service.ts).
   */
  async issue(grant: Omit<StreamGrant, 'issuedAt'>): Promise<{ token: string; url: string }> {
    const { token, url, ops } = this.prepare(grant);
    await this.store.multi(ops);
    if ((await this.store.get(this.keys.call(grant.callSid))) === null) {
      await this.store.multi([
        { op: 'del', key: this.keys.streamToken(token) },
        { op: 'srem', key: this.keys.streamTokens(grant.callSid), member: token },
      ]);
    }
    return { token, url };
  }

  /** `issue` as the writes it makes (the token, its entry in its call's list), for a caller that makes them in its own atomic write before answering with the URL */
  prepare(grant: Omit<StreamGrant, 'issuedAt'>): { token: string; url: string; ops: StoreOp[] } {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const ops: StoreOp[] = [
      { op: 'set', key: this.keys.streamToken(token), value: JSON.stringify({ ...grant, issuedAt: Date.now() }), ttlSeconds: STREAM_TOKEN_TTL_SECONDS },
      // the list outlives every token on it: each entry renews it to the token's own TTL
      { op: 'sadd', key: this.keys.streamTokens(grant.callSid), member: token, ttlSeconds: STREAM_TOKEN_TTL_SECONDS },
    ];
    return { token, url: `${this.origin}/media/${token}`, ops };
  }

  /** takes the token once; null when unknown, expired or already used */
  async take(token: string): Promise<StreamGrant | null> {
    return this.read(token, (key) => this.store.take(key));
  }

  /** peeks without taking (the handshake is validated before the token is consumed) */
  async peek(token: string): Promise<StreamGrant | null> {
    return this.read(token, (key) => this.store.get(key));
  }

  private async read(token: string, fetch: (key: string) => Promise<string | null>): Promise<StreamGrant | null> {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(token)) return null;
    const raw = await fetch(this.keys.streamToken(token));
    if (!raw) return null;
    const parsed = streamGrant.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }
}
