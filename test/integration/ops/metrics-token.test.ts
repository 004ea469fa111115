/**
 * METRICS_TOKEN on the metrics listener (ops/metrics-server.ts): set, /metrics on METRICS_PORT
 * answers only `Authorization: Bearer <token>`, as a Prometheus scrape config's `authorization`
 * sends it, and a 401 with a Bearer challenge otherwise; unset, the listener answers whoever
 * reaches it, as before. Over real HTTP, and the log stream, read at trace level, never holds the token.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/app';
import { loadConfig } from '../../../src/config';
import { minimalEnv } from '../../support/env';
import { LogCapture } from '../../support/harness';

const TOKEN = 'scrape-token-0123456789abcdef-0123456789';
const env = { ...minimalEnv(), LOG_LEVEL: 'trace', METRICS_HOST: '127.0.0.1', METRICS_PORT: '0', TWILIO_API_BASE_URL: 'http://127.0.0.1:9' };

async function started(extra: Record<string, string>): Promise<{ app: FastifyInstance; logs: LogCapture; metricsUrl: string; publicUrl: string }> {
  const logs = new LogCapture();
  const app = await buildApp(loadConfig({ ...env, ...extra }), { logStream: logs });
  const publicUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  const metricsUrl = `${await app.services.metricsServer.listen()}/metrics`;
  return { app, logs, metricsUrl, publicUrl };
}

describe('with METRICS_TOKEN set', () => {
  let s: Awaited<ReturnType<typeof started>>;
  beforeAll(async () => {
    s = await started({ METRICS_TOKEN: TOKEN });
  });
  afterAll(async () => s.app.close());

  test.each([
    ['no Authorization', undefined],
    ['a wrong token', `Bearer ${TOKEN.slice(0, -1)}x`],
    ['the token with more after it', `Bearer ${TOKEN}x`],
    ['the token as Basic credentials', `Basic ${Buffer.from(`prometheus:${TOKEN}`).toString('base64')}`],
    ['the token without its scheme', TOKEN],
  ])('the listener answers %s with 401 and a Bearer challenge, and no metrics', async (_what, authorization) => {
    const res = await fetch(s.metricsUrl, authorization ? { headers: { authorization } } : {});
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tonewall metrics"');
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ error: 'TW_ERR_AUTH_UNAUTHORIZED', message: 'missing or invalid token' });
    expect(body).not.toContain('tonewall_');
  });

  test('the listener answers the token with Prometheus text', async () => {
    const res = await fetch(s.metricsUrl, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('# TYPE tonewall_calls_active gauge');
    expect(text).toContain('tonewall_webhook_duration_seconds');
    // the scheme is case-insensitive (RFC 7235 §2.1)
    expect((await fetch(s.metricsUrl, { headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
  });

  test("the public port's /metrics asks for the same token, with the same challenge", async () => {
    const refused = await fetch(`${s.publicUrl}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="tonewall metrics"');
    expect((await fetch(`${s.publicUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  test('no log line holds the token, and no warning says the listener is open', async () => {
    await fetch(s.metricsUrl, { headers: { authorization: `Bearer ${TOKEN}` } });
    await fetch(`${s.publicUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    await fetch(s.metricsUrl, { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(s.logs.lines.length).toBeGreaterThan(0);
    expect(s.logs.text).not.toContain(TOKEN);
    expect(s.logs.text).not.toContain(Buffer.from(TOKEN).toString('base64'));
    expect(s.logs.lines.filter((l) => l.includes('"variable":"METRICS_HOST"'))).toEqual([]);
  });
});

describe('with METRICS_TOKEN unset', () => {
  test('the listener answers anyone, as before, whatever Authorization they send', async () => {
    const s = await started({});
    try {
      const open = await fetch(s.metricsUrl);
      expect(open.status).toBe(200);
      expect(open.headers.get('www-authenticate')).toBeNull();
      expect(await open.text()).toContain('tonewall_calls_active');
      expect((await fetch(s.metricsUrl, { headers: { authorization: 'Bearer anything' } })).status).toBe(200);
      // and the public port does not serve it
      expect((await fetch(`${s.publicUrl}/metrics`)).status).toBe(404);
    } finally {
      await s.app.close();
    }
  });
});
