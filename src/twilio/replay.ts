/**
 * Replays. Twilio retries a webhook it got no answer to, and an attacker may resend a captured
 * one: either gets the answer the first request got, and nothing runs twice. The first request
 * claims the request's digest (SET NX) and stores its answer; a duplicate that arrives while
 * the first is still running waits for that answer. Digests are HMACs keyed with a service
 * secret, since a request body can hold a card number that a plain hash would let anyone
 * brute-force from the store.
 */
import { createHmac } from 'node:crypto';
import type { Keys, Store } from '../store';

export const REPLAY_TTL_SECONDS = 4 * 60 * 60;
const PENDING = 'pending';
const WAIT_STEP_MS = 50;
const WAIT_MAX_MS = 10_000;

export interface StoredAnswer {
  status: number;
  contentType: string;
  body: string;
}

export class ReplayGuard {
  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly secret: Buffer,
  ) {}

  digest(url: string, params: Record<string, string>, signature: string): string {
    // the same bytes as one update per piece, in one call into the hash (a call per piece was
    // most of this function's cost)
    let text = url + '\n' + signature + '\n';
    for (const k of Object.keys(params).sort()) text += k + '=' + params[k] + '\n';
    return createHmac('sha256', this.secret).update(text).digest('hex');
  }

  /** 'first' when this request should run; otherwise the first request's answer */
  async claim(digest: string): Promise<{ first: true } | { first: false; answer: StoredAnswer | null }> {
    const key = this.keys.webhookReplay(digest);
    if (await this.store.setIfAbsent(key, PENDING, REPLAY_TTL_SECONDS)) return { first: true };
    for (let waited = 0; waited <= WAIT_MAX_MS; waited += WAIT_STEP_MS) {
      const v = await this.store.get(key);
      if (v && v !== PENDING) return { first: false, answer: JSON.parse(v) as StoredAnswer };
      if (v === null) return { first: false, answer: null };
      await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
    }
    return { first: false, answer: null };
  }

  async remember(digest: string, answer: StoredAnswer): Promise<void> {
    await this.store.set(this.keys.webhookReplay(digest), JSON.stringify(answer), REPLAY_TTL_SECONDS);
  }

  /** the first request failed before answering: let a retry run it afresh */
  async release(digest: string): Promise<void> {
    await this.store.del(this.keys.webhookReplay(digest));
  }
}
