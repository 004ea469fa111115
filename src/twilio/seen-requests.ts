/**
 * The signed webhooks this process has received lately, so a rescue can tell a request it already
 * got from a new one while the store, where the replay guard lives, is down (dropin-rescue.ts,
 * stretch-rescue.ts). Twilio sends a request that reached the server once: it retries only a
 * connection that was never made (its connection overrides' default retry policy, `ct`), and a
 * request never received was never seen here. So a second arrival of the same signed request is
 * a copy resent by someone who captured it (a proxy's log), and its rescue resumes nothing.
 *
 * A request is known by its X-Twilio-Signature, which Twilio computes over the URL it requests
 * (the action's query included) and every form parameter: a byte-identical copy, and any copy cut
 * at other parameter boundaries, carries the same one. What is kept is an HMAC of it under a key
 * drawn when the process starts and never written anywhere: the signature of a gather's request
 * is a function of the keys the caller pressed, so with the auth token it could be searched for
 * them; the HMAC under an unknown key cannot.
 *
 * Each process knows only what it received: a copy sent to another instance behind the same
 * public URL is new there, and only the query's age bounds it (SECURITY.md).
 *
 * Kept for as long as a query may still resume anything (SEEN_REQUEST_MEMORY_MS), and no more
 * than SEEN_REQUESTS_MAX at once: a Map in arrival order, the expired swept from its head as each
 * request arrives (no timer per request), the oldest dropped when it is full (`onDrop`).
 */
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { QUERY_CLOCK_SKEW_SECONDS } from '../recording/query-time';
import { DROPIN_QUERY_MAX_AGE_SECONDS } from './dropin-rescue';
import { STRETCH_QUERY_MAX_AGE_SECONDS } from './stretch-rescue';

/**
 * How long a received request is remembered (210 s): as long as its query may still resume
 * anything after it arrived, the longer of a stretch's and a drop-in capture's bound, and the
 * clock skew a query dated ahead may carry on top of it.
 */
export const SEEN_REQUEST_MEMORY_MS = (Math.max(STRETCH_QUERY_MAX_AGE_SECONDS, DROPIN_QUERY_MAX_AGE_SECONDS) + QUERY_CLOCK_SKEW_SECONDS) * 1000;

/**
 * How many requests are remembered at most (about 10 MB of digests and times): 100 000 in 210 s
 * is some 475 rescuable webhooks a second on one instance, well past what one instance answers.
 */
export const SEEN_REQUESTS_MAX = 100_000;

export interface SeenRequestsOptions {
  memoryMs?: number;
  max?: number;
  /** a monotonic clock in ms (a query's age is read by the wall clock; this needs only intervals) */
  now?: () => number;
  /** the oldest request was forgotten before its time, the memory full: a copy of it resent here goes uncaught */
  onDrop?: () => void;
}

export class SeenRequests {
  /** digest -> when it arrived (ms), in arrival order: the oldest first */
  private readonly arrived = new Map<string, number>();
  private readonly key: KeyObject = createSecretKey(randomBytes(32));
  private readonly memoryMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(private readonly opts: SeenRequestsOptions = {}) {
    this.memoryMs = opts.memoryMs ?? SEEN_REQUEST_MEMORY_MS;
    this.max = opts.max ?? SEEN_REQUESTS_MAX;
    this.now = opts.now ?? (() => performance.now());
  }

  /**
   * Notes that the request signed `signature` arrived: true when an earlier request with the same
   * signature arrived within the memory's time (this one is a copy), false for the first.
   */
  arrive(signature: string): boolean {
    const now = this.now();
    this.sweep(now);
    const id = createHmac('sha256', this.key).update(signature).digest('base64url');
    const earlier = this.arrived.has(id);
    // a copy moves to the end with its time: the Map stays in arrival order for the sweep
    if (earlier) this.arrived.delete(id);
    else if (this.arrived.size >= this.max) this.dropOldest();
    this.arrived.set(id, now);
    return earlier;
  }

  /** how many requests are remembered now */
  get size(): number {
    return this.arrived.size;
  }

  private sweep(now: number): void {
    for (const [id, at] of this.arrived) {
      if (now - at < this.memoryMs) return;
      this.arrived.delete(id);
    }
  }

  private dropOldest(): void {
    const oldest = this.arrived.keys().next();
    if (oldest.done) return;
    this.arrived.delete(oldest.value);
    this.opts.onDrop?.();
  }
}
