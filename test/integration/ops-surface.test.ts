/**
 * Issue 11 item 6: /metrics off the public port (or behind a bearer token), security headers on
 * every response, and the client IP (from a trusted proxy only) on agent and admin log lines.
 */
import { createHmac } from 'node:crypto';
import { startHarness, type Harness } from '../support/harness';
import { token } from '../support/agents';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef-0123456789';

interface LogLine {
  msg: string;
  ip?: string;
  url?: string;
  agent?: string;
  statusCode?: number;
}
const lines = (h: Harness) => h.logs.lines.map((l) => JSON.parse(l) as LogLine);
/** the log as the router would read a path in it: a number escaped character by character is a number */
const unescaped = (text: string) => text.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
/** +1 555 123 4567 with every character percent-escaped */
const ESCAPED_NUMBER = '%2B%31%35%35%35%31%32%33%34%35%36%37';

describe('metrics', () => {
  test('by default /metrics answers on its own port, not the public one', async () => {
    const h = await startHarness({ store: 'embedded' });
    try {
      expect(new URL(h.metricsUrl).port).not.toBe(new URL(h.url).port);
      const res = await fetch(h.metricsUrl);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('tonewall_webhook_duration_seconds');
      expect((await fetch(`${h.url}/metrics`)).status).toBe(404);
    } finally {
      await h.close();
    }
  });

  test('with METRICS_TOKEN the public port serves it to that bearer token only', async () => {
    const h = await startHarness({ store: 'embedded', env: { METRICS_TOKEN } });
    try {
      expect((await fetch(`${h.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })).status).toBe(401);
      const ok = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('tonewall_calls_active');
    } finally {
      await h.close();
    }
  });
});

describe('security headers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ store: 'embedded' });
  });
  afterAll(async () => h?.close());

  test('every response carries them: probes, API answers and errors, webhooks, unknown paths', async () => {
    const signed = (url: string, params: Record<string, string>) => {
      const data =
        url +
        Object.keys(params)
          .sort()
          .map((k) => k + params[k])
          .join('');
      return createHmac('sha1', h.config.twilio.authToken).update(data).digest('base64');
    };
    const params = { CallSid: 'CA' + 'b'.repeat(32), CallStatus: 'completed' };
    const responses = [
      await fetch(`${h.url}/healthz`),
      await fetch(`${h.url}/v1/calls`),
      await fetch(`${h.url}/v1/calls`, { headers: { authorization: `Bearer ${token(h, 'alice')}` } }),
      await fetch(`${h.url}/twilio/status`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'CallSid=x' }),
      await fetch(`${h.url}/twilio/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signed(`${h.publicUrl}/twilio/status`, params) },
        body: new URLSearchParams(params).toString(),
      }),
      await fetch(`${h.url}/no/such/path`),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 200, 400, expect.any(Number), 404]);
    for (const r of responses) {
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(r.headers.get('strict-transport-security')).toContain('max-age=');
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  test('the panel keeps its own, stricter policy', async () => {
    const res = await fetch(`${h.url}/agent`);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('content-security-policy')).toContain("require-trusted-types-for 'script'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

/** who asked, as the access log names them (the audit trail's actor, never the token's sub) */
const actorOf = (h: Harness, sub: string, role = 'agent') => h.app.services.audit.actor({ role, sub });

describe('client IP on agent and admin requests', () => {
  test('behind a trusted proxy the forwarded address is logged, with who asked', async () => {
    const h = await startHarness({ store: 'embedded', env: { TRUST_PROXY: '127.0.0.1' } });
    try {
      await fetch(`${h.url}/v1/calls`, { headers: { authorization: `Bearer ${token(h, 'alice')}`, 'x-forwarded-for': '203.0.113.7' } });
      await fetch(`${h.url}/v1/subjects/%2B15551234567`, {
        headers: { authorization: `Bearer ${token(h, 'root', 'admin')}`, 'x-forwarded-for': '198.51.100.9' },
      });
      // the same route spelled with escapes, as the router still reads it
      await fetch(`${h.url}/v1/%73ubjects/${ESCAPED_NUMBER}`, {
        headers: { authorization: `Bearer ${token(h, 'root', 'admin')}`, 'x-forwarded-for': '198.51.100.10' },
      });
      const access = lines(h).filter((l) => l.msg === 'agent request');
      expect(access).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ ip: '203.0.113.7', actor: actorOf(h, 'alice'), url: '/v1/calls', statusCode: 200 }),
          expect.objectContaining({ ip: '198.51.100.9', actor: actorOf(h, 'root', 'admin'), url: '/v1/subjects/[subject]', statusCode: 200 }),
          expect.objectContaining({ ip: '198.51.100.10', actor: actorOf(h, 'root', 'admin'), url: '/v1/subjects/[subject]', statusCode: 200 }),
        ]),
      );
      // the admin's subject never reaches the log, plain or escaped
      expect(unescaped(h.logs.text)).not.toContain('5551234567');
    } finally {
      await h.close();
    }
  });

  test('without TRUST_PROXY a forwarded address is not believed', async () => {
    const h = await startHarness({ store: 'embedded' });
    try {
      await fetch(`${h.url}/v1/calls`, { headers: { authorization: `Bearer ${token(h, 'alice')}`, 'x-forwarded-for': '203.0.113.7' } });
      const access = lines(h).filter((l) => l.msg === 'agent request');
      expect(access).toEqual([expect.objectContaining({ ip: '127.0.0.1', actor: actorOf(h, 'alice') })]);
      expect(h.logs.text).not.toContain('203.0.113.7');
    } finally {
      await h.close();
    }
  });
  test('a spelling of an agent route that the router still serves is logged as that route is', async () => {
    const h = await startHarness({ store: 'embedded' });
    try {
      const alice = { authorization: `Bearer ${token(h, 'alice')}` };
      expect((await fetch(`${h.url}/%761/calls`, { headers: alice })).status).toBe(200);
      expect((await fetch(`${h.url}/v1/%63alls`, { headers: alice })).status).toBe(200);
      expect((await fetch(`${h.url}/%61gent`)).status).toBe(200);
      const access = lines(h).filter((l) => l.msg === 'agent request');
      expect(access).toEqual([
        expect.objectContaining({ ip: '127.0.0.1', actor: actorOf(h, 'alice'), statusCode: 200 }),
        expect.objectContaining({ ip: '127.0.0.1', actor: actorOf(h, 'alice'), statusCode: 200 }),
        expect.objectContaining({ ip: '127.0.0.1', statusCode: 200 }),
      ]);
    } finally {
      await h.close();
    }
  });
});

describe('requests for no route', () => {
  // Fastify's own 404 handler logged `Route <METHOD>:<raw url> not found`, path and query as sent:
  // a Voice URL set to HTTP GET in Twilio's console put every caller's number (and a gather's keys)
  // in the log, and an admin's POST, OPTIONS or trailing slash on /v1/subjects/:phone the subject's
  const CALLER = '5551234567';
  const CARD = '4111111111111111';
  const misses: [string, string][] = [
    ['GET', `/twilio/voice?CallSid=CA${'0'.repeat(32)}&From=%2B1${CALLER}&Caller=%2B1${CALLER}&To=%2B15005550006`],
    ['GET', `/twilio/gather/0/1?Digits=${CARD}&From=%2B1${CALLER}`],
    ['POST', `/v1/subjects/%2B1${CALLER}`],
    ['OPTIONS', `/v1/subjects/%2B1${CALLER}`],
    ['GET', `/v1/subjects/%2B1${CALLER}/`],
    ['GET', `//v1/subjects/%2B1${CALLER}`],
    ['GET', `/v1/subject/+1${CALLER}`],
    ['GET', `/v1/%73ubject/${ESCAPED_NUMBER}`],
    // glued to letters, as no route's segment is
    ['GET', `/twilio/card${CARD}`],
    ['POST', `/v1/pan=x${CARD}y`],
    ['GET', `/v1/calls/CA${'0'.repeat(32)}/from+1${CALLER}`],
  ];

  test('are answered 404 and logged without the number or keys in their path or query', async () => {
    const h = await startHarness({ store: 'embedded' });
    try {
      for (const [method, p] of misses) {
        const res = await fetch(h.url + p, { method, headers: { authorization: `Bearer ${token(h, 'root', 'admin')}` } });
        expect(res.status).toBe(404);
        const body = await res.text();
        expect(body).not.toContain(CALLER);
        expect(body).not.toContain(CARD);
      }
      const missed = lines(h).filter((l) => l.msg === 'route not found');
      expect(missed).toHaveLength(misses.length);
      expect(missed).toContainEqual(expect.objectContaining({ url: '/twilio/voice?[query]' }));
      // who probes: the client's address on every one
      for (const l of missed) expect(l.ip).toBe('127.0.0.1');
      expect(unescaped(h.logs.text)).not.toContain(CALLER);
      expect(unescaped(h.logs.text)).not.toContain(CARD);
    } finally {
      await h.close();
    }
  });
});

describe("paths Fastify's router cannot read", () => {
  // its own answers to a malformed percent-escape (400) and to a path parameter past its
  // maxParamLength (414) quoted the path, number or identity and all, and skipped every hook
  const IDENTITY = 'alicewonderland';
  test("are answered in the catalogue's shape, with the security headers, never quoting the path; a long subject is served", async () => {
    const h = await startHarness({ store: 'embedded' });
    try {
      const admin = { authorization: `Bearer ${token(h, 'root', 'admin')}` };
      const longSubject = encodeURIComponent(`sip:${IDENTITY.repeat(15)}@pbx.example.com`);
      const bad = await fetch(`${h.url}/v1/subjects/%2B1555123%E0%A4%A`, { headers: admin });
      const tooLong = await fetch(`${h.url}/v1/subjects/%2B1555123${'a'.repeat(3100)}`, { headers: admin });
      const served = await fetch(`${h.url}/v1/subjects/${longSubject}`, { headers: admin });
      expect([bad.status, tooLong.status, served.status]).toEqual([400, 414, 200]);
      for (const r of [bad, tooLong]) {
        expect(await r.json()).toEqual({ error: 'TW_ERR_REQUEST_INVALID', message: 'invalid request' });
        expect(r.headers.get('x-content-type-options')).toBe('nosniff');
        expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      }
      // a 245-character SIP address is named, and found (no call: none)
      expect(await served.json()).toMatchObject({ calls: [] });
      expect(unescaped(h.logs.text)).not.toContain('1555123');
      expect(unescaped(h.logs.text)).not.toContain(IDENTITY);
    } finally {
      await h.close();
    }
  });
});
