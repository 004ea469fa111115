/**
 * Messages between instances (pub/sub through the store) are signed. Redis is a trust
 * boundary: whoever can publish on it (a leaked password, a neighbour on a shared Redis, a
 * compromised client) must not be able to tell an instance to dial an agent leg into a
 * caller's bridge or to run a capture. Every message is an envelope
 *
 *   {"v":1,"t":<unix ms>,"n":"<nonce>","p":"<payload JSON>","s":"<HMAC-SHA256>"}
 *
 * whose MAC covers the channel it was published on, the time, the nonce and the payload, so a
 * message cannot be moved to another instance's channel, replayed later than MESSAGE_MAX_AGE_MS
 * or replayed within that window (nonces seen are remembered that long). The key ring's first
 * key signs; every key verifies, so keys can be rotated one instance at a time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { BusErrors } from '../errors';

/** a message older (or further in the future) than this is refused: clocks of instances agree to well within it */
export const MESSAGE_MAX_AGE_MS = 30_000;
/** nonces are remembered this long: past it the age check alone refuses a replay */
const NONCE_MEMORY_MS = 2 * MESSAGE_MAX_AGE_MS;
const NONCE_BYTES = 16;
/** the label that keeps these MACs apart from any other use of the key */
const DOMAIN = 'tonewall instance message v1';

const envelope = z.object({
  v: z.literal(1),
  t: z.number().int().nonnegative(),
  n: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  p: z.string().max(256 * 1024),
  s: z.string().regex(/^[0-9a-f]{64}$/),
});

export type Verified = { ok: true; payload: unknown } | { ok: false; reason: 'malformed' | 'unsigned' | 'bad-signature' | 'stale' | 'replayed' };

export class MessageSigner {
  readonly #keys: readonly Buffer[];
  readonly #now: () => number;
  readonly #seen = new Map<string, number>();

  constructor(keys: readonly Buffer[], opts: { now?: () => number } = {}) {
    if (keys.length === 0 || keys.some((k) => k.length < 32)) throw BusErrors.keysInvalid();
    this.#keys = keys;
    this.#now = opts.now ?? Date.now;
  }

  sign(channel: string, payload: unknown): string {
    const t = this.#now();
    const n = randomBytes(NONCE_BYTES).toString('base64url');
    const p = JSON.stringify(payload);
    return JSON.stringify({ v: 1, t, n, p, s: mac(this.#keys[0], channel, t, n, p) });
  }

  /** the payload of a message signed for `channel`, once; otherwise why it is refused */
  verify(channel: string, raw: string): Verified {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const e = envelope.safeParse(json);
    if (!e.success) return { ok: false, reason: json && typeof json === 'object' && !('s' in json) ? 'unsigned' : 'malformed' };
    const { t, n, p, s } = e.data;
    const given = Buffer.from(s, 'hex');
    if (!this.#keys.some((k) => timingSafeEqual(Buffer.from(mac(k, channel, t, n, p), 'hex'), given))) return { ok: false, reason: 'bad-signature' };
    const now = this.#now();
    if (Math.abs(now - t) > MESSAGE_MAX_AGE_MS) return { ok: false, reason: 'stale' };
    this.#forgetOld(now);
    if (this.#seen.has(n)) return { ok: false, reason: 'replayed' };
    this.#seen.set(n, now + NONCE_MEMORY_MS);
    try {
      return { ok: true, payload: JSON.parse(p) as unknown };
    } catch {
      return { ok: false, reason: 'malformed' };
    }
  }

  #forgetOld(now: number): void {
    // insertion order is expiry order (a constant memory span), so the oldest are first
    for (const [n, until] of this.#seen) {
      if (until > now) break;
      this.#seen.delete(n);
    }
  }

  /** logs and JSON never show the keys */
  toJSON(): { keys: number } {
    return { keys: this.#keys.length };
  }
}

function mac(key: Buffer, channel: string, t: number, n: string, p: string): string {
  return createHmac('sha256', key).update(`${DOMAIN}\n${channel}\n${t}\n${n}\n${p}`).digest('hex');
}
