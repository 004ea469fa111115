import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { WebhookSender } from '../../../tools/emulator/webhook';
import { AUTH_TOKEN } from './fake-service';

/**
 * Twilio's default connection settings: a webhook whose connection could not be made is tried
 * once more (Retry count 1, Retry policy: connection failures), with the same idempotency token;
 * one that reached the server is never sent again, whatever it answered.
 * https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides
 */
describe('webhook sender: connection retries as Twilio makes them', () => {
  let server: http.Server;
  let origin: string;
  let received: { headers: http.IncomingHttpHeaders; body: string }[];
  let status: number;

  beforeEach(async () => {
    received = [];
    status = 200;
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(status, { 'Content-Type': 'text/xml' }).end('<Response/>');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** an origin nothing listens on: its connection is refused */
  async function closedOrigin(): Promise<string> {
    const s = http.createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return `http://127.0.0.1:${port}`;
  }

  it('retries once a connection that was refused, with the same idempotency token and a valid signature', async () => {
    const dead = await closedOrigin();
    const tried: string[] = [];
    // the first attempt goes where nothing listens, the retry to the server
    const sender = new WebhookSender(AUTH_TOKEN, 15_000, (url) => {
      tried.push(url);
      return tried.length === 1 ? url.replace(origin, dead) : url;
    });
    const url = `${origin}/voice?x=1`;
    const res = await sender.send(url, { CallSid: 'CA1', Digits: '12' });
    expect(res.status).toBe(200);
    expect(tried).toEqual([url, url]);
    expect(received).toHaveLength(1);
    const h = received[0].headers;
    expect(h['i-twilio-idempotency-token']).toEqual(expect.any(String));
    expect(twilio.validateRequest(AUTH_TOKEN, String(h['x-twilio-signature']), url, { CallSid: 'CA1', Digits: '12' })).toBe(true);
  });

  it('gives up after one retry, and never resends a request the server answered (a 500 included)', async () => {
    const dead = await closedOrigin();
    let tries = 0;
    const down = new WebhookSender(AUTH_TOKEN, 15_000, (url) => {
      tries += 1;
      return url.replace(origin, dead);
    });
    await expect(down.send(`${origin}/voice`, { CallSid: 'CA1' })).rejects.toThrow();
    expect(tries).toBe(2);

    status = 500;
    const up = new WebhookSender(AUTH_TOKEN);
    expect((await up.send(`${origin}/voice`, { CallSid: 'CA1' })).status).toBe(500);
    expect(received).toHaveLength(1);
  });
});
