/**
 * The open agent sockets' tokens ended while their sockets are up (agents/socket.ts holds the
 * sockets): a token signed out on any instance (the session bus's news), or left idle, closes its
 * sockets here 4401; the news can be missed and idleness has none, so the open sockets' tokens are
 * also read against the store every `revocationCheckMs` (socket-limits.ts). Apart from socket.ts
 * because it is about a token's standing across instances and over time, not about one socket's
 * messages: it keeps state of its own (the tokens heard signed out, one check at a time) and a timer.
 */
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Principal, TokenAuth } from '../auth/tokens';
import { errFields } from '../log';
import { CLOSE_UNAUTHORIZED } from './socket-messages';

/** what of an authenticated socket its token's end needs */
export interface SessionClient {
  socket: WebSocket;
  /** the digest its token is revoked by (auth/revocations.ts), never the token */
  token: string;
  actor: string;
  principal: Principal;
}

/**
 * How long an instance remembers a token it heard was signed out: past the store read a socket's
 * token is checked with (bounded by the store's command timeout), after which the store says so
 */
const SIGNED_OUT_KEPT_MS = 60_000;

export class SocketSessions {
  /**
   * Tokens this instance heard were signed out, for SIGNED_OUT_KEPT_MS: a socket whose token the
   * store answered for just before it filed the sign-out, and let in just after the news came, is
   * refused here (after that the store's record refuses it).
   */
  private readonly signedOut = new Map<string, number>();
  private checking = false;
  private recheck: NodeJS.Timeout | undefined;

  constructor(
    private readonly clients: Set<SessionClient>,
    private readonly d: { auth: TokenAuth; log: Logger },
  ) {}

  /** closes the sockets of a token signed out, or left idle on every instance (auth/idle.ts): the store refuses it from now on */
  end(digest: string, why: 'revoked' | 'idle' = 'revoked'): void {
    const now = Date.now();
    for (const [t, until] of this.signedOut) if (until <= now) this.signedOut.delete(t);
    if (why === 'revoked') this.signedOut.set(digest, now + SIGNED_OUT_KEPT_MS);
    for (const c of this.clients) {
      if (c.token !== digest) continue;
      this.clients.delete(c);
      this.d.log.info({ actor: c.actor, role: c.principal.role, reason: why === 'idle' ? 'idle' : 'signed-out' }, 'agent socket closed');
      c.socket.close(CLOSE_UNAUTHORIZED, why === 'idle' ? 'idle' : 'signed out');
    }
  }

  isSignedOut(digest: string): boolean {
    return (this.signedOut.get(digest) ?? 0) > Date.now();
  }

  // the news can be missed (a subscription down as it went out), and a token goes idle with no news:
  // the open sockets' tokens are read against the store now and then (no use: events heard are
  // none), so a signed-out or idle one stops hearing events within the interval; a store that
  // cannot answer leaves them open (each request they send is checked, and fails)
  startRecheck(everyMs: number): void {
    this.recheck = setInterval(() => {
      if (this.checking || this.clients.size === 0) return;
      this.checking = true;
      const tokens = new Map([...this.clients].map((c) => [c.token, c.principal.exp]));
      const check = async ([t, exp]: [string, number]) => {
        const standing = await this.d.auth.standing(t, exp, false);
        if (standing !== 'good') this.end(t, standing);
      };
      Promise.all([...tokens].map(check))
        .catch((err: unknown) => this.d.log.warn({ err: errFields(err) }, 'agent socket tokens not re-checked'))
        .finally(() => (this.checking = false));
    }, everyMs);
    this.recheck.unref();
  }

  stopRecheck(): void {
    clearInterval(this.recheck);
  }
}
