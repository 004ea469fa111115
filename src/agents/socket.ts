/**
 * `GET /agent/ws`: authenticate with the first message, then the agent's events live. One
 * subscription to the event bus per instance fans events out to the sockets on this instance;
 * the per-call rule is applied to every event for every socket (the session is loaded once per
 * event). Client messages are the same actions as the REST API.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import type { CallEvent, EventBus } from '../events';
import { isTonewallError } from '../errors';
import type { AgentActions } from './actions';
import { canSee, type Principal, type TokenAuth } from './auth';
import { AGENT_EVENT_TYPES, AUTH_TIMEOUT_MS, CLOSE_UNAUTHORIZED, authMessage, clientMessage, type ClientMessage } from './socket-messages';
import { errFields } from '../log';

export interface AgentSocketDeps {
  auth: TokenAuth;
  calls: CallRepository;
  events: EventBus;
  actions: AgentActions;
  log: Logger;
  authTimeoutMs?: number;
}

interface Client {
  socket: WebSocket;
  principal: Principal;
}

/** client messages are a few hundred bytes; anything far larger is answered as malformed, unread */
const MAX_CLIENT_MESSAGE_BYTES = 16 * 1024;

/** setTimeout's ceiling (about 24.8 days); a longer-lived token is re-checked then */
const MAX_TIMER_MS = 2 ** 31 - 1;

function send(socket: WebSocket, message: Record<string, unknown>): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

/**
 * The per-call rule for an event: an agent sees an offer of a call with no handoff.to only while
 * it is offered (canSee); an event for a call whose record is gone goes to supervisors only.
 */
function visible(p: Principal, session: CallSession | null): boolean {
  if (!session) return p.role !== 'agent';
  return canSee(p, session);
}

export function agentSocket(d: AgentSocketDeps): FastifyPluginAsync {
  return async (app) => {
    const clients = new Set<Client>();

    const fanOut = async (event: CallEvent) => {
      if (!AGENT_EVENT_TYPES.has(event.type) || clients.size === 0) return;
      const session = await d.calls.get(event.callSid);
      const text = JSON.stringify(event);
      for (const c of clients) {
        if (visible(c.principal, session) && c.socket.readyState === c.socket.OPEN) c.socket.send(text);
      }
    };
    // one event at a time, so every socket sees a call's events in the order they were published
    let queue = Promise.resolve();
    const unsubscribe = await d.events.subscribe((e) => {
      queue = queue.then(() => fanOut(e)).catch((err: unknown) => d.log.error({ err: errFields(err) }, 'agent event fan-out failed'));
    });
    app.addHook('onClose', async () => {
      await unsubscribe();
      for (const c of clients) c.socket.close(1001, 'shutting down');
    });

    const serve = async (client: Client, msg: ClientMessage) => {
      switch (msg.type) {
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

    app.get('/agent/ws', { websocket: true }, (socket) => {
      let client: Client | null = null;
      let expiry: NodeJS.Timeout | undefined;
      const authTimer = setTimeout(() => {
        d.log.info({ reason: 'auth-timeout' }, 'agent socket refused');
        socket.close(CLOSE_UNAUTHORIZED, 'unauthorized');
      }, d.authTimeoutMs ?? AUTH_TIMEOUT_MS);

      socket.on('close', () => {
        clearTimeout(authTimer);
        clearTimeout(expiry);
        if (client) clients.delete(client);
      });

      socket.on('message', (data, isBinary) => {
        const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
        let json: unknown;
        try {
          json = isBinary || size > MAX_CLIENT_MESSAGE_BYTES ? undefined : JSON.parse(data.toString());
        } catch {
          json = undefined;
        }
        if (!client) {
          clearTimeout(authTimer);
          const auth = authMessage.safeParse(json);
          let principal: Principal;
          try {
            if (!auth.success) throw new Error('no auth message');
            principal = d.auth.verify(auth.data.token);
          } catch {
            d.log.info({ reason: auth.success ? 'token' : 'no-auth-message' }, 'agent socket refused');
            socket.close(CLOSE_UNAUTHORIZED, 'unauthorized');
            return;
          }
          d.log.info({ agent: principal.sub, role: principal.role }, 'agent socket authenticated');
          client = { socket, principal };
          clients.add(client);
          // the token's expiry ends the session it opened
          expiry = setTimeout(() => socket.close(CLOSE_UNAUTHORIZED, 'token expired'), Math.min(MAX_TIMER_MS, Math.max(0, principal.exp * 1000 - Date.now())));
          return;
        }
        const parsed = clientMessage.safeParse(json);
        const current = client;
        if (!parsed.success) {
          send(socket, { type: 'error', message: 'malformed message', ...callSidOf(json) });
          return;
        }
        serve(current, parsed.data).catch((e: unknown) => {
          const message = isTonewallError(e) ? e.message : 'internal error';
          const code = isTonewallError(e) ? e.code : 'TW_ERR_INTERNAL';
          if (!isTonewallError(e)) d.log.error({ err: errFields(e) }, 'agent socket message failed');
          send(socket, { type: 'error', message, code, request: parsed.data.type, callSid: parsed.data.callSid });
        });
      });
    });
  };
}

/** every event carries callSid: a well-formed one is echoed back on an error, else null */
function callSidOf(json: unknown): { callSid: string | null } {
  const sid = (json as { callSid?: unknown } | null)?.callSid;
  return { callSid: typeof sid === 'string' && /^CA[0-9a-fA-F]{32}$/.test(sid) ? sid : null };
}
