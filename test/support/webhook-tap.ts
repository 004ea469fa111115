/**
 * A proxy's log of Twilio's webhooks: a plain node:http hop between the emulator's TLS proxy and
 * an instance, keeping every request as it came (path and query, headers, body bytes), so a test
 * can send one again exactly as Twilio sent it, as someone holding that log could. Point a public
 * origin at it with the emulator's `routeOrigin`; it has no WebSocket hop (no media streams).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TappedRequest {
  method: string;
  /** path and query, as requested */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface WebhookTap {
  /** http://127.0.0.1:<port>: the local origin to route a public origin to */
  url: string;
  requests: TappedRequest[];
  /** the request again, byte for byte with its signature and Twilio's headers, to `origin` (an instance's local http origin) */
  resend(req: TappedRequest, origin: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

/** the headers Twilio sends that a copy carries on (the proxy's own: host, length, connection, left to fetch) */
const CARRIED = ['content-type', 'x-twilio-signature', 'i-twilio-idempotency-token', 'user-agent', 'accept'];

function carried(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of CARRIED) {
    const v = headers[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

export async function startWebhookTap(target: string): Promise<WebhookTap> {
  const requests: TappedRequest[] = [];
  const send = async (req: TappedRequest, origin: string) => {
    const res = await fetch(origin + req.url, {
      method: req.method,
      headers: carried(req.headers),
      body: req.method === 'GET' ? undefined : new Uint8Array(req.body),
    });
    return { status: res.status, body: await res.text(), headers: res.headers };
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const tapped: TappedRequest = { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(tapped);
      send(tapped, target).then(
        (answer) => {
          const type = answer.headers.get('content-type');
          res.writeHead(answer.status, type ? { 'content-type': type } : {});
          res.end(answer.body);
        },
        () => {
          res.writeHead(502);
          res.end();
        },
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    resend: async (req, origin) => {
      const { status, body } = await send(req, origin);
      return { status, body };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
