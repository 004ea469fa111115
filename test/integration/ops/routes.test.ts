/** Health, readiness and metrics (CONTRACT §8) on the real app, through inject(). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import twilio from 'twilio';
import { startTwilioEmulator, type TwilioEmulator } from '../../../tools/emulator';
import { buildInjectedApp, type InjectedApp } from '../../support/app';
import { ACCOUNT_SID, AUTH_TOKEN } from '../../support/harness';

const METRICS_TOKEN = 'm'.repeat(40);
let t: InjectedApp;
let emulator: TwilioEmulator;
beforeAll(async () => {
  // ready only with the REST configuration verified against Twilio (twilio/rest-check.ts): the emulator answers it
  emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  // /metrics answers on the public port only with METRICS_TOKEN set, and only to that token
  t = await buildInjectedApp({ METRICS_TOKEN, TWILIO_API_BASE_URL: emulator.baseUrl });
});
afterAll(async () => {
  await t?.close();
  await emulator?.close();
});

test('health, readiness and metrics', async () => {
  // one signed webhook (a number with no flow: no state, no REST call), so its latency is observed
  const params = { AccountSid: ACCOUNT_SID, CallSid: 'CA' + 'e'.repeat(32), CallStatus: 'ringing', From: '+15557654321', To: '+15559999999' };
  const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${t.app.services.config.publicUrl}/twilio/voice`, params);
  const voice = await t.inject({
    method: 'POST',
    url: '/twilio/voice',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    payload: new URLSearchParams(params).toString(),
  });
  expect(voice.body).toMatch(/not in service/);

  expect((await t.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  const ready = await t.inject({ method: 'GET', url: '/readyz' });
  expect(ready.statusCode).toBe(200);
  expect(ready.json()).toMatchObject({ status: 'ready', store: 'redis', checks: { twilio: 'verified' } });
  expect((await t.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
  const metrics = (await t.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).body;
  expect(metrics).toContain('tonewall_webhook_duration_seconds_bucket');
  expect(metrics).toContain('tonewall_calls_active');
});

test('not ready with no flow loaded: every call would hear that the number is not in service', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-no-flows-'));
  const bare = await buildInjectedApp({ TWILIO_API_BASE_URL: emulator.baseUrl, FLOWS_DIR: empty });
  try {
    const ready = await bare.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'not ready', checks: { flows: 'none loaded', store: 'ok', twilio: 'verified' } });
  } finally {
    await bare.close();
    fs.rmSync(empty, { recursive: true, force: true });
  }
});
