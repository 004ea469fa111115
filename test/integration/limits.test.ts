/**
 * Issue 11 item 3: limits against unauthenticated clients, on the real app over real sockets.
 * Before these limits: /agent/ws buffered 4 MB messages from strangers, any number of
 * unauthenticated sockets stayed open, a refused socket waited 30 s for the peer's close frame,
 * a trickled body held a connection for minutes, and nothing limited request rates.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { startHarness, type Harness } from '../support/harness';
import { AgentSocket, api, token } from '../support/agents';

const wsUrl = (h: Harness) => h.url.replace(/^http/, 'ws') + '/agent/ws';

function closedOf(ws: WebSocket): Promise<{ code: number }> {
  return new Promise((resolve) => ws.on('close', (code) => resolve({ code })));
}

async function openWs(h: Harness): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl(h));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', () => reject(new Error('refused')));
  });
  return ws;
}

/** a WebSocket client by hand: it never answers a close frame, so only the server can end it */
async function rawWsClient(h: Harness): Promise<{ socket: net.Socket; closed: Promise<Buffer> }> {
  const { port } = new URL(h.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  let received = Buffer.alloc(0);
  const closed = new Promise<Buffer>((resolve) => socket.on('close', () => resolve(received)));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (received.includes('\r\n\r\n')) resolve();
    });
    socket.write(
      `GET /agent/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
  expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 101/);
  return { socket, closed };
}

/** one masked text frame, as a client must send it */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = randomBytes(4);
  const header =
    payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([header, mask, masked]);
}

/** the status of a GET whose request target is `target` exactly as given (fetch would rewrite an absolute-form one) */
async function rawGetStatus(h: Harness, target: string, tok: string): Promise<number> {
  const { port } = new URL(h.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  await new Promise<void>((resolve, reject) => {
    socket.on('close', () => resolve());
    socket.on('error', reject);
    socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${tok}\r\nConnection: close\r\n\r\n`);
  });
  const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
  if (!m) throw new Error('no HTTP answer');
  return Number(m[1]);
}

describe('the agent WebSocket before authentication', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ store: 'embedded', build: { maxPendingAgentSockets: 3 } });
  });
  afterAll(async () => h?.close());

  test('a message over 16 KB before auth ends the socket (1009); 4 MB is never buffered', async () => {
    for (const size of [16 * 1024 + 1, 4 * 1024 * 1024]) {
      const ws = await openWs(h);
      const closed = closedOf(ws);
      ws.send(JSON.stringify({ type: 'auth', token: 'x'.repeat(size) }));
      expect((await closed).code).toBe(1009);
    }
  });

  test('an authenticated agent keeps the larger bound: a 64 KB message is answered, not closed', async () => {
    const s = await AgentSocket.open(h, token(h, 'alice'));
    s.send(JSON.stringify({ type: 'handoff.accept', callSid: 'CA' + 'a'.repeat(32), pad: 'x'.repeat(64 * 1024) }));
    await s.next((e) => e.type === 'error' && e.message === 'malformed message', 'the answer');
    expect(s.isOpen).toBe(true);
    s.close();
  });

  test('a bad token ends the TCP connection at once, even for a peer that never answers the close frame', async () => {
    const { socket, closed } = await rawWsClient(h);
    socket.write(textFrame(JSON.stringify({ type: 'auth', token: 'nope' })));
    const bytes = await closed;
    // the close frame (0x88) with 4401 (0x1131) reached the peer before the connection ended
    const at = bytes.indexOf(Buffer.from([0x88]), bytes.indexOf('\r\n\r\n') + 4);
    expect(at).toBeGreaterThan(0);
    expect(bytes.readUInt16BE(at + 2)).toBe(4401);
  });

  test('unauthenticated sockets are capped per instance (1013); authenticating frees a place', async () => {
    const waiting = [await openWs(h), await openWs(h), await openWs(h)];
    const extra = await openWs(h);
    expect((await closedOf(extra)).code).toBe(1013);
    // one of the waiting authenticates: its place is free again
    const first = waiting[0];
    const answered = new Promise((resolve) => first.once('message', resolve));
    first.send(JSON.stringify({ type: 'auth', token: token(h, 'alice') }));
    first.send(JSON.stringify({ type: 'probe' }));
    await answered;
    const next = await openWs(h);
    const overflow = await openWs(h);
    expect((await closedOf(overflow)).code).toBe(1013);
    expect(next.readyState).toBe(WebSocket.OPEN);
    for (const ws of [...waiting, next]) ws.close();
  });
});

describe('slow requests', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ store: 'embedded', build: { requestTimeoutMs: 500 } });
  });
  afterAll(async () => h?.close());

  test('a trickled body is cut off by the request timeout', async () => {
    const { port } = new URL(h.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(`POST /v1/calls/CA${'a'.repeat(32)}/captures HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
    const trickle = setInterval(() => socket.writable && socket.write(' '), 100);
    await closed;
    clearInterval(trickle);
    // Node answers 408 when it can; either way the connection is gone
    if (answer) expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  test('a trickled body to the metrics listener is cut off too: it answers strangers, by default on every interface', async () => {
    const { port } = new URL(h.metricsUrl);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(`POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
    const trickle = setInterval(() => socket.writable && socket.write(' '), 100);
    await closed;
    clearInterval(trickle);
    if (answer) expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('rate limits', () => {
  const env = { RATE_LIMIT_MAX: '5' };

  test('the agent API is limited per client IP; Twilio webhooks are not', async () => {
    const h = await startHarness({ env });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await api(h, 'GET', '/v1/calls', token(h, 'alice'))).status);
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(statuses.slice(5)).toEqual([429, 429]);
      const limited = await api(h, 'GET', '/v1/calls', token(h, 'alice'));
      expect(limited.body).toMatchObject({ error: 'TW_ERR_RATE_LIMITED' });
      // the panel and the agent socket's upgrade count too
      expect((await fetch(`${h.url}/agent`)).status).toBe(429);
      // unsigned webhooks are refused for their signature (400), never for their rate
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${h.url}/twilio/status`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'CallSid=CA1',
        });
        expect(res.status).toBe(400);
      }
      expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  test('a spelling of an agent route that the router still serves counts as that route', async () => {
    const h = await startHarness({ env, store: 'embedded' });
    try {
      const alice = token(h, 'alice');
      // percent-escaped letters and an absolute-form target both reach GET /v1/calls
      const statuses: number[] = [];
      for (const p of ['/%761/calls', '/v1/%63alls', '/%76%31/calls']) statuses.push((await api(h, 'GET', p, alice)).status);
      statuses.push(await rawGetStatus(h, `${h.url}/v1/calls`, alice));
      // a doubled slash is not a route here (ignoreDuplicateSlashes is off): a 404, never served, and counted all the same
      statuses.push((await api(h, 'GET', '//v1/calls', alice)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 404]);
      expect((await api(h, 'GET', '/%761/calls', alice)).status).toBe(429);
      expect(await rawGetStatus(h, `${h.url}/v1/calls`, alice)).toBe(429);
      expect((await fetch(`${h.url}/%61gent`)).status).toBe(429);
      expect((await api(h, 'GET', '/v1//calls', alice)).status).toBe(429);
    } finally {
      await h.close();
    }
  });

  test('requests for no route are limited per client IP too: a prober of paths gets 429, its logged 404s stop', async () => {
    const h = await startHarness({ env, store: 'embedded' });
    try {
      const statuses: number[] = [];
      for (const p of ['/.env', '/wp-login.php', '/admin', '/v2/calls', '/twilio/nowhere', '/x', '/y']) statuses.push((await fetch(`${h.url}${p}`)).status);
      expect(statuses).toEqual([404, 404, 404, 404, 404, 429, 429]);
      expect(h.logs.lines.filter((l) => l.includes('route not found'))).toHaveLength(5);
      // the count is the agent API's: the prober's next API request is refused as well
      expect((await api(h, 'GET', '/v1/calls', token(h, 'alice'))).status).toBe(429);
      // Twilio's signed routes stay unlimited for the same client
      const res = await fetch(`${h.url}/twilio/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'CallSid=CA1',
      });
      expect(res.status).toBe(400);
    } finally {
      await h.close();
    }
  });

  test('with Redis the count is shared by every instance', async () => {
    const a = await startHarness({ env });
    const b = await startHarness({ env, keyPrefix: a.keyPrefix, emulator: a.emulator });
    try {
      for (let i = 0; i < 3; i++) expect((await api(a, 'GET', '/v1/calls', token(a, 'alice'))).status).toBe(200);
      const fromB: number[] = [];
      for (let i = 0; i < 3; i++) fromB.push((await api(b, 'GET', '/v1/calls', token(b, 'alice'))).status);
      expect(fromB).toEqual([200, 200, 429]);
      // every key the limiter wrote carries a TTL
      const rl = (await a.scan()).filter((k) => k.key.includes('ratelimit'));
      expect(rl.length).toBeGreaterThan(0);
      for (const k of rl) expect(k.ttl).toBeGreaterThan(0);
    } finally {
      await b.close();
      await a.close();
    }
  });
});
