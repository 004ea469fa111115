/**
 * `GET /agent/ws`: authenticate with the first message, then the agent's events live. One
 * subscription to the event bus per instance fans events out to the sockets on this instance;
 * the per-call rule (socket-visibility.ts) is applied to every event for every socket (the
 * session is loaded once per event). Client messages are the same actions as the REST API. What one socket may cost the
 * instance (its unsent bytes, its message rate, its requests at once), and how many one `sub`
 * may hold open, is socket-limits.ts's. A token signed out or gone idle while its sockets are
 * open closes them (socket-sessions.ts).
 */
import { isCallSid } from '../sids';
import type { FastifyPluginAsync } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import type { CallRepository } from '../calls/repository';
import type { AgentEvent, CallEvent, EventBus, SessionBus } from '../bus';
import { AgentErrors, isTonewallError, RequestErrors } from '../errors';
import type { AgentActions } from './actions';
import type { Principal, TokenAuth } from '../auth/tokens';
import { tokenDigest } from '../auth/revocations';
import { AGENT_EVENT_TYPES, AUTH_TIMEOUT_MS, CLOSE_UNAUTHORIZED, authMessage, clientMessage, type ClientMessage } from './socket-messages';
import { errFields } from '../log';
import { SocketSessions } from './socket-sessions';
import { heard, visible, type Listener } from './socket-visibility';
import {
  CLOSE_POLICY_VIOLATION,
  CLOSE_TOO_MANY_SOCKETS,
  CLOSE_TRY_AGAIN,
  socketLimits,
  TokenBucket,
  type SocketCloseReason,
  type SocketLimits,
} from './socket-limits';

export interface AgentSocketDeps {
  auth: TokenAuth;
  /** how logs and events name the socket's user (AuditTrail.actor): never the token's `sub` */
  actor(p: Principal): string;
  calls: CallRepository;
  events: EventBus;
  /** tokens signed out (POST /v1/session/signout) on any instance: their sockets here close 4401 */
  sessions: SessionBus;
  actions: AgentActions;
  log: Logger;
  metrics: Pick<Metrics, 'agentSocketsClosed' | 'agentSocketsRefused'>;
  /** draining (SIGTERM, server.ts): a new socket is refused 1013 before any auth work, so the panel reconnects elsewhere; open ones stay until the close's 1001 */
  draining: () => boolean;
  authTimeoutMs?: number;
  /** sockets that have not authenticated yet, at most, on this instance (tests lower it) */
  maxPendingSockets?: number;
  /** tests change one limit at a time to reach another (socket-limits.ts) */
  limits?: Partial<SocketLimits>;
}

/** an authenticated socket: its principal, actor and the calls it was told of are socket-visibility.ts's */
interface Client extends Listener {
  socket: WebSocket;
  /** the digest its token is revoked by (auth/revocations.ts), never the token */
  token: string;
  /** client messages it may still send now (socket-limits.ts MESSAGES_PER_SECOND) */
  bucket: TokenBucket;
  /** its requests being served (socket-limits.ts MAX_REQUESTS_IN_FLIGHT) */
  inFlight: number;
}

/** client messages are a few hundred bytes; anything far larger is answered as malformed, unread */
const MAX_CLIENT_MESSAGE_BYTES = 16 * 1024;

/**
 * What ws buffers for one message. Before auth a socket is anyone's: its message may not exceed
 * an auth message's size class (issue 11: 20 sockets once held 81 MB of 4 MB messages), and ws
 * ends the socket (1009) at the frame header of anything larger. An authenticated agent's
 * oversized message is still answered as malformed up to the larger bound.
 */
export const PREAUTH_MAX_PAYLOAD_BYTES = MAX_CLIENT_MESSAGE_BYTES;
export const AUTHENTICATED_MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * Sockets still waiting for their auth message, per instance. Each lives at most the auth
 * timeout and buffers at most PREAUTH_MAX_PAYLOAD_BYTES, so this bounds what strangers can hold
 * (about 4 MB); agents authenticate within a second of connecting, so a reconnect storm of a
 * large floor fits.
 */
export const MAX_PENDING_SOCKETS = 256;

/**
 * ws fixes maxPayload for the whole server (media streams need megabytes to drop an oversized
 * frame without closing); this socket's receiver gets its own bound. `_receiver._maxPayload` is
 * ws's own field (ws 8); if a ws upgrade renames it, this returns false and the socket is
 * refused rather than served unbounded (test/integration/agent-limits.test.ts holds it).
 */
function limitMessageSize(socket: WebSocket, bytes: number): boolean {
  const receiver = (socket as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') return false;
  receiver._maxPayload = bytes;
  return true;
}

/** ends a socket at once: the close frame says why, then no waiting 30 s for the peer's reply */
function refuse(socket: WebSocket, code: number, reason: string): void {
  socket.close(code, reason);
  socket.terminate();
}

/**
 * How long a socket closed for its rate is given to answer the close before it is cut: it is
 * reading (it only sent too fast), so its close frame must not be lost behind the replies still
 * queued, as terminate() right after close() can lose it when the socket's writes are backed up
 */
const CLOSE_GRACE_MS = 1_000;

/** a close the peer can read: the close frame, then the connection cut if no answer comes in CLOSE_GRACE_MS */
function closeGently(socket: WebSocket, code: number, reason: string): void {
  socket.close(code, reason);
  setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
}

/**
 * Messages a socket sends while its token is being checked against the store (a read, a few ms):
 * kept, then served in order once it is let in. A client that sends more before it is even
 * authenticated is no panel: it is closed (1008).
 */
const MAX_MESSAGES_WHILE_AUTHENTICATING = 16;

/** setTimeout's ceiling (about 24.8 days); a longer-lived token is re-checked then */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function agentSocket(d: AgentSocketDeps): FastifyPluginAsync {
  return async (app) => {
    const clients = new Set<Client>();
    /** open authenticated sockets by token `sub`, on this instance (socket-limits.ts MAX_SOCKETS_PER_AGENT); never logged */
    const perAgent = new Map<string, number>();
    const release = (sub: string) => {
      const n = (perAgent.get(sub) ?? 1) - 1;
      if (n > 0) perAgent.set(sub, n);
      else perAgent.delete(sub);
    };
    const maxPending = d.maxPendingSockets ?? MAX_PENDING_SOCKETS;
    const limits = socketLimits(d.limits);
    let pending = 0;

    /** ends an authenticated socket for a limit: no personal data logged, the reason counted */
    const closeFor = (c: Client, reason: SocketCloseReason) => {
      if (!clients.delete(c)) return;
      d.log.warn({ actor: c.actor, role: c.principal.role, reason, bufferedBytes: c.socket.bufferedAmount }, 'agent socket closed');
      d.metrics.agentSocketsClosed.inc({ reason });
      if (reason === 'rate-limit') closeGently(c.socket, CLOSE_POLICY_VIOLATION, 'too many messages');
      else refuse(c.socket, CLOSE_TRY_AGAIN, 'too far behind');
    };
    /**
     * Sends one event (JSON text of the union, bus/messages.ts agentEvent) unless the socket is
     * too far behind reading: then it is closed, and the panel reconnects and reads the calls
     * afresh. False when nothing was sent.
     */
    const deliver = (c: Client, text: string): boolean => {
      if (c.socket.readyState !== c.socket.OPEN) return false;
      if (c.socket.bufferedAmount > limits.maxBufferedBytes) {
        closeFor(c, 'backpressure');
        return false;
      }
      c.socket.send(text);
      return true;
    };
    const send = (c: Client, message: AgentEvent) => deliver(c, JSON.stringify(message));

    const fanOut = async (event: CallEvent) => {
      if (!AGENT_EVENT_TYPES.has(event.type) || clients.size === 0) return;
      const session = await d.calls.get(event.callSid);
      const text = JSON.stringify(event satisfies AgentEvent);
      for (const c of clients) {
        if (visible(c, event, session) && deliver(c, text)) heard(c, event);
      }
    };
    // one event at a time, so every socket sees a call's events in the order they were published
    let queue = Promise.resolve();
    const unsubscribe = await d.events.subscribe((e) => {
      queue = queue.then(() => fanOut(e)).catch((err: unknown) => d.log.error({ err: errFields(err) }, 'agent event fan-out failed'));
    });
    /** tokens signed out or idle: their sockets closed (socket-sessions.ts) */
    const sessions = new SocketSessions(clients, d);
    const stopSessions = await d.sessions.subscribe((e) => sessions.end(e.token));
    sessions.startRecheck(limits.revocationCheckMs);
    // channels left as the close starts (its sockets told 1001 just before, app-http.ts), both at
    // once beside LiveCalls.stop's: an onClose here runs after the app's, the store closed by then.
    // Shutting down, a channel not left goes with its connection: a failure is only noted, once.
    let leaving: Promise<PromiseSettledResult<void>[]> = Promise.resolve([]);
    app.addHook('preClose', async () => {
      leaving = Promise.allSettled([unsubscribe(), stopSessions()]);
    });
    app.addHook('onClose', async () => {
      sessions.stopRecheck();
      const failed = (await leaving).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      const note = 'agent socket unsubscribes not answered on shutdown: left to the connection close';
      if (failed.length > 0) d.log.warn({ failed: failed.length, err: errFields(failed[0].reason) }, note);
    });

    const serve = async (client: Client, msg: ClientMessage) => {
      // signed out since it was let in, and the news missed (a subscription down as it went out, or
      // a publish that failed after the store filed it), or idle: the store's record ends it here,
      // unserved. A client message is a use of the token: its idle clock starts again.
      const standing = await d.auth.standing(client.token, client.principal.exp, true);
      if (standing !== 'good') {
        sessions.end(client.token, standing);
        return;
      }
      switch (msg.type) {
        case 'activity':
          return;
        case 'handoff.accept':
          await d.actions.accept(client.principal, msg.callSid);
          return;
        case 'capture.start': {
          const { type: _t, callSid, ...request } = msg;
          await d.actions.startCapture(client.principal, callSid, request);
          return;
        }
        case 'capture.cancel':
          await d.actions.cancelCapture(client.principal, msg.callSid, msg.captureId);
          return;
      }
    };

    app.get('/agent/ws', { websocket: true }, (socket, request) => {
      if (d.draining()) {
        request.log.info({ reason: 'draining', ip: request.ip }, 'agent socket refused');
        refuse(socket, CLOSE_TRY_AGAIN, 'draining');
        return;
      }
      if (pending >= maxPending) {
        request.log.warn({ reason: 'pending-limit', ip: request.ip }, 'agent socket refused');
        refuse(socket, CLOSE_TRY_AGAIN, 'try again later');
        return;
      }
      if (!limitMessageSize(socket, PREAUTH_MAX_PAYLOAD_BYTES)) {
        request.log.error({ reason: 'message-limit' }, 'agent socket refused');
        refuse(socket, 1011, 'internal error');
        return;
      }
      pending++;
      let isPending = true;
      const settle = () => {
        if (isPending) pending--;
        isPending = false;
      };
      let client: Client | null = null;
      let expiry: NodeJS.Timeout | undefined;
      const authTimer = setTimeout(() => {
        d.log.info({ reason: 'auth-timeout', ip: request.ip }, 'agent socket refused');
        refuse(socket, CLOSE_UNAUTHORIZED, 'unauthorized');
      }, d.authTimeoutMs ?? AUTH_TIMEOUT_MS);

      socket.on('close', () => {
        settle();
        clearTimeout(authTimer);
        clearTimeout(expiry);
        if (client) {
          clients.delete(client);
          release(client.principal.sub);
        }
      });

      /** let in: counted against its `sub`'s share, its events from now on, closed at its exp */
      const admit = (principal: Principal, token: string): boolean => {
        const actor = d.actor(principal);
        if (sessions.isSignedOut(token)) {
          // signed out on another instance between the store's answer and now
          d.log.info({ reason: 'token', ip: request.ip }, 'agent socket refused');
          refuse(socket, CLOSE_UNAUTHORIZED, 'unauthorized');
          return false;
        }
        if ((perAgent.get(principal.sub) ?? 0) >= limits.maxPerAgent) {
          // one token (stolen, or a client reconnecting in a loop) holds its share already: named by its actor, never its sub
          d.log.warn({ reason: 'per-agent-limit', actor, role: principal.role, ip: request.ip, limit: limits.maxPerAgent }, 'agent socket refused');
          d.metrics.agentSocketsRefused.inc({ reason: 'per-agent-limit' });
          refuse(socket, CLOSE_TOO_MANY_SOCKETS, 'too many sockets for this agent');
          return false;
        }
        perAgent.set(principal.sub, (perAgent.get(principal.sub) ?? 0) + 1);
        limitMessageSize(socket, AUTHENTICATED_MAX_PAYLOAD_BYTES);
        d.log.info({ actor, role: principal.role, ip: request.ip }, 'agent socket authenticated');
        client = { socket, principal, token, actor, heard: new Set(), bucket: new TokenBucket(limits.messagesPerSecond, limits.messageBurst), inFlight: 0 };
        clients.add(client);
        // the token's expiry ends the session it opened
        expiry = setTimeout(() => socket.close(CLOSE_UNAUTHORIZED, 'token expired'), Math.min(MAX_TIMER_MS, Math.max(0, principal.exp * 1000 - Date.now())));
        return true;
      };
      /** what came while the token was checked (null: nothing is being checked) */
      let waiting: [data: RawData, isBinary: boolean][] | null = null;
      const authenticate = (json: unknown) => {
        // opened just before the drain began: not let in now either, as one opened after it
        if (d.draining()) {
          d.log.info({ reason: 'draining', ip: request.ip }, 'agent socket refused');
          refuse(socket, CLOSE_TRY_AGAIN, 'draining');
          return;
        }
        const auth = authMessage.safeParse(json);
        if (!auth.success) {
          d.log.info({ reason: 'no-auth-message', ip: request.ip }, 'agent socket refused');
          refuse(socket, CLOSE_UNAUTHORIZED, 'unauthorized');
          return;
        }
        const token = auth.data.token;
        waiting = [];
        // the signature and claims, then the store's word that it was not signed out (one read)
        d.auth.authenticate(token, d.log).then(
          (principal) => {
            const queued = waiting ?? [];
            waiting = null;
            if (socket.readyState !== socket.OPEN) return;
            settle();
            if (admit(principal, tokenDigest(token))) for (const [data, isBinary] of queued) onMessage(data, isBinary);
          },
          (err: unknown) => {
            waiting = null;
            if (socket.readyState !== socket.OPEN) return;
            if (isTonewallError(err) && err.statusCode === 401) {
              d.log.info({ reason: 'token', ip: request.ip }, 'agent socket refused');
              refuse(socket, CLOSE_UNAUTHORIZED, 'unauthorized');
              return;
            }
            // the store could not say whether the token was signed out: not let in, and not told its token is bad
            d.log.error({ reason: 'store', ip: request.ip, err: errFields(err) }, 'agent socket refused');
            refuse(socket, CLOSE_TRY_AGAIN, 'try again later');
          },
        );
      };

      const onMessage = (data: RawData, isBinary: boolean): void => {
        // what ws still parses of a socket being closed is not served
        if (socket.readyState !== socket.OPEN) return;
        if (waiting) {
          if (waiting.length >= MAX_MESSAGES_WHILE_AUTHENTICATING) refuse(socket, CLOSE_POLICY_VIOLATION, 'too many messages');
          else waiting.push([data, isBinary]);
          return;
        }
        const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
        let json: unknown;
        try {
          json = isBinary || size > MAX_CLIENT_MESSAGE_BYTES ? undefined : JSON.parse(data.toString());
        } catch {
          json = undefined;
        }
        if (!client) {
          clearTimeout(authTimer);
          authenticate(json);
          return;
        }
        const current = client;
        // every message counts, well-formed or not: a flood of either is the same
        if (!current.bucket.take()) {
          closeFor(current, 'rate-limit');
          return;
        }
        const parsed = clientMessage.safeParse(json);
        if (!parsed.success) {
          send(current, { type: 'error', message: 'malformed message', ...callSidOf(json) });
          return;
        }
        const answer = (e: unknown) => {
          const message = isTonewallError(e) ? e.message : 'internal error';
          // the contract's name where it has one, as the HTTP API answers (app-http.ts)
          const code = isTonewallError(e) ? (e.wireCode ?? e.code) : RequestErrors.internal.code;
          if (!isTonewallError(e)) d.log.error({ err: errFields(e) }, 'agent socket message failed');
          send(current, { type: 'error', message, code, request: parsed.data.type, callSid: 'callSid' in parsed.data ? parsed.data.callSid : null });
        };
        if (current.inFlight >= limits.maxInFlight) {
          answer(AgentErrors.socketBusy());
          return;
        }
        current.inFlight++;
        serve(current, parsed.data)
          .catch(answer)
          .finally(() => current.inFlight--);
      };
      socket.on('message', onMessage);
    });
  };
}

/** every event carries callSid: a well-formed one is echoed back on an error, else null */
function callSidOf(json: unknown): { callSid: string | null } {
  const sid = (json as { callSid?: unknown } | null)?.callSid;
  return { callSid: isCallSid(sid) ? sid : null };
}
