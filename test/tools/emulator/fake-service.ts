import formbody from '@fastify/formbody';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyRequest } from 'fastify';
import twilio from 'twilio';
import type WebSocket from 'ws';

/**
 * A tiny stand-in for the real service: answers TwiML per path, validates every
 * webhook's and every stream handshake's X-Twilio-Signature the way the service must.
 */

export interface ReceivedRequest {
  path: string;
  url: string;
  method: string;
  params: Record<string, string>;
  signature?: string;
  valid: boolean;
  headers: Record<string, string | string[] | undefined>;
}

export interface ReceivedStream {
  path: string;
  socket: WebSocket;
  messages: Record<string, unknown>[];
  raw: string[];
  /** messages that were not JSON */
  invalid: number;
  closed: Promise<void>;
}

type RouteAnswer = string | { status: number; body: string };
export type Route = (params: Record<string, string>) => RouteAnswer | Promise<RouteAnswer>;

export interface FakeService {
  /** its own http origin (what the proxy, when there is one, hands requests to) */
  origin: string;
  /** the origin its media streams are dialled at: wss of the public origin behind a proxy, ws of its own otherwise */
  wsOrigin: string;
  /** what a client on the host connects to for a URL of `wsOrigin` (the proxy's hop) */
  reach: (url: string) => string;
  requests: ReceivedRequest[];
  streams: ReceivedStream[];
  streamHandshakes: { path: string; valid: boolean }[];
  routes: Map<string, Route>;
  /** resolves with the next stream that connects */
  nextStream(): Promise<ReceivedStream>;
  /** resolves when a request for `path` has arrived */
  waitForRequest(path: string): Promise<ReceivedRequest>;
  close(): Promise<void>;
}

export async function startFakeService(
  authToken: string,
  routes: Record<string, Route> = {},
  /** the https origin Twilio is given, when a TLS-terminating proxy stands in front (signatures are over it) */
  opts: { publicOrigin?: string } = {},
): Promise<FakeService> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(formbody);
  await app.register(websocket);
  const requests: ReceivedRequest[] = [];
  const streams: ReceivedStream[] = [];
  const streamHandshakes: { path: string; valid: boolean }[] = [];
  const routeMap = new Map(Object.entries(routes));
  const streamWaiters: ((s: ReceivedStream) => void)[] = [];
  const requestWaiters: { path: string; resolve: (r: ReceivedRequest) => void }[] = [];
  let origin = '';

  const signatureOf = (req: FastifyRequest): string | undefined => {
    const h = req.headers['x-twilio-signature'];
    return Array.isArray(h) ? h[0] : h;
  };

  app.register(async (scope) => {
    scope.addHook('preValidation', async (req, reply) => {
      const url = (opts.publicOrigin ?? origin).replace(/^http/, 'ws') + req.url;
      const sig = signatureOf(req);
      const valid = !!sig && twilio.validateRequest(authToken, sig, url, {});
      streamHandshakes.push({ path: req.url, valid });
      // a stream the service no longer knows (an unknown or reused token)
      if (req.url.startsWith('/streams/refused')) return reply.code(404).send('unknown stream');
      if (!sig) return reply.code(400).send('missing signature');
      if (!valid) return reply.code(403).send('bad signature');
    });
    scope.get('/streams/*', { websocket: true }, (socket, req) => {
      let closedResolve!: () => void;
      const stream: ReceivedStream = {
        path: req.url,
        socket,
        messages: [],
        raw: [],
        invalid: 0,
        closed: new Promise((r) => {
          closedResolve = r;
        }),
      };
      socket.on('message', (data: Buffer) => {
        const text = data.toString();
        stream.raw.push(text);
        try {
          stream.messages.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          stream.invalid += 1;
        }
      });
      socket.on('close', () => closedResolve());
      streams.push(stream);
      streamWaiters.shift()?.(stream);
    });
  });

  const handle = async (req: FastifyRequest): Promise<{ status: number; body: string }> => {
    const params = (req.method === 'GET' ? req.query : (req.body ?? {})) as Record<string, string>;
    const url = (opts.publicOrigin ?? origin) + req.url;
    const sig = signatureOf(req);
    const signedParams = req.method === 'GET' ? {} : params;
    const received: ReceivedRequest = {
      path: req.url.split('?')[0],
      url,
      method: req.method,
      params,
      signature: sig,
      valid: !!sig && twilio.validateRequest(authToken, sig, url, signedParams),
      headers: req.headers,
    };
    requests.push(received);
    for (const w of requestWaiters.filter((x) => x.path === received.path)) {
      requestWaiters.splice(requestWaiters.indexOf(w), 1);
      w.resolve(received);
    }
    if (!sig) return { status: 400, body: '' };
    if (!received.valid) return { status: 403, body: '' };
    const route = routeMap.get(received.path);
    if (!route) return { status: 200, body: '' };
    const out = await route(params);
    return typeof out === 'string' ? { status: 200, body: out } : out;
  };

  app.route({
    method: ['GET', 'POST'],
    url: '/*',
    handler: async (req, reply) => {
      const { status, body } = await handle(req);
      return reply.code(status).type('text/xml').send(body);
    },
  });

  origin = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    origin,
    wsOrigin: (opts.publicOrigin ?? origin).replace(/^http/, 'ws'),
    reach: (url) => (opts.publicOrigin ? url.replace(opts.publicOrigin.replace(/^http/, 'ws'), origin.replace(/^http/, 'ws')) : url),
    requests,
    streams,
    streamHandshakes,
    routes: routeMap,
    nextStream: () => new Promise((resolve) => streamWaiters.push(resolve)),
    waitForRequest: (path) => {
      const seen = requests.find((r) => r.path === path);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => requestWaiters.push({ path, resolve }));
    },
    close: () => app.close(),
  };
}

/** polls until `predicate` holds (or fails the test after `ms`) */
export async function eventually(predicate: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const ACCOUNT_SID = 'AC' + '0123456789abcdef'.repeat(2);
export const AUTH_TOKEN = 'emulator-test-auth-token';

export const BASIC_AUTH = 'Basic ' + Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64');

export type RestCall = (
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  params?: Record<string, string | string[]>,
  auth?: string,
) => Promise<{ status: number; json: Record<string, unknown> }>;

/** a minimal REST client for the emulator's API, paths relative to the account */
export function twilioRest(baseUrl: string): RestCall {
  const api = `${baseUrl}/2010-04-01/Accounts/${ACCOUNT_SID}`;
  return async (method, path, params = {}, auth = BASIC_AUTH) => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const item of [v].flat()) body.append(k, item);
    const res = await fetch(`${api}${path}`, {
      method,
      headers: {
        Authorization: auth,
        ...(method === 'POST' ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: method === 'POST' ? body.toString() : undefined,
    });
    // a 204 (a recording deleted) has no body
    const text = await res.text();
    return { status: res.status, json: (text === '' ? undefined : JSON.parse(text)) as Record<string, unknown> };
  };
}
