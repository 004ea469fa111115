/**
 * What one authenticated agent socket may cost the instance (CONTRACT §5): how far behind its
 * reader may fall, how fast it may send, and how many of its requests may run at once. One
 * instance holds every live bridge it relays; a socket that makes it run out of memory cuts off
 * every caller on it, so no agent, however buggy or hostile its client, may hold more than these.
 */

/**
 * What ws may hold unsent for one socket (its own queue and the TCP socket's) before the socket
 * is closed rather than queued to: about 7,000 `capture.progress` events, minutes of a busy
 * floor's events for a supervisor, far beyond what a reading panel ever lags. It bounds what a
 * client that stops reading can make the instance hold (without it, 7-byte malformed messages
 * queued 62-byte answers without end), and matches media/stream.ts's bound for a media stream.
 */
export const MAX_SOCKET_BUFFERED_BYTES = 1024 * 1024;

/**
 * Client messages per second, sustained, and the burst above it. The panel sends one message
 * per click (an accept, a capture's start or cancel) and keepalives are ws pings, which are not
 * messages; a desktop integration accepting a batch of offers at once fits in the burst.
 */
export const MESSAGES_PER_SECOND = 20;
export const MESSAGE_BURST = 40;

/**
 * Requests (accept, capture start and cancel) of one socket running at once. Each runs store and
 * bus work that can take seconds (a capture's start waits on Twilio for each recording's pause);
 * an agent works one call, so a few at once is already a busy panel. Past it a message is
 * answered with an `error` (AgentErrors.socketBusy), not run.
 */
export const MAX_REQUESTS_IN_FLIGHT = 4;

/**
 * Open sockets one `sub` may hold on one instance (AGENT_SOCKETS_PER_AGENT overrides it). An agent
 * keeps a panel or two open (a reload overlaps its old socket for a moment, a second screen); a
 * supervisor a few more. Each socket is served every event it may see, so without a bound one
 * stolen token could open thousands and make the instance fan every call out to each of them.
 */
export const MAX_SOCKETS_PER_AGENT = 8;

/**
 * Private-use close code (RFC 6455 4000-4999, as 4401 mirrors HTTP 401): the token's `sub`
 * already holds MAX_SOCKETS_PER_AGENT sockets here. Not retried at once by a well-behaved panel.
 */
export const CLOSE_TOO_MANY_SOCKETS = 4429;

/** RFC 6455 1008: the client broke the socket's rules (it sent faster than MESSAGES_PER_SECOND) */
export const CLOSE_POLICY_VIOLATION = 1008;
/** RFC 6455 1013 "try again later": the client fell too far behind reading; reconnect and resync */
export const CLOSE_TRY_AGAIN = 1013;

/** why the service closed an authenticated agent socket: the `reason` of tonewall_agent_sockets_closed_total */
export type SocketCloseReason = 'backpressure' | 'rate-limit';

/** A token bucket: `capacity` messages at once, refilled at `perSecond`. The clock is injectable. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly perSecond: number,
    private readonly capacity: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  /** takes one token: false when none is left */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * How often the tokens of the sockets open on an instance are read against the store's
 * revocations (one read per distinct token): a sign-out closes its sockets at once through the
 * `session.revoked` news, and this bounds how long one whose news its instance missed (pub/sub
 * keeps nothing for a subscriber reconnecting) goes on hearing events.
 */
export const REVOCATION_CHECK_MS = 30_000;

/** the limits, frozen at build; tests change one at a time to reach another */
export interface SocketLimits {
  maxBufferedBytes: number;
  messagesPerSecond: number;
  messageBurst: number;
  maxInFlight: number;
  /** open sockets of one `sub` on this instance (MAX_SOCKETS_PER_AGENT) */
  maxPerAgent: number;
  /** how often the open sockets' tokens are checked against the store's revocations (REVOCATION_CHECK_MS) */
  revocationCheckMs: number;
}

export function socketLimits(over: Partial<SocketLimits> = {}): Readonly<SocketLimits> {
  return Object.freeze({
    maxBufferedBytes: MAX_SOCKET_BUFFERED_BYTES,
    messagesPerSecond: MESSAGES_PER_SECOND,
    messageBurst: MESSAGE_BURST,
    maxInFlight: MAX_REQUESTS_IN_FLIGHT,
    maxPerAgent: MAX_SOCKETS_PER_AGENT,
    revocationCheckMs: REVOCATION_CHECK_MS,
    ...over,
  });
}
