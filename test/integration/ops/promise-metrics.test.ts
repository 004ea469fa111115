/**
 * Metrics an operator's alerts read for two promises (deploy/prometheus/tonewall-alerts.yml):
 * how long Twilio takes to answer a recording pause (the wait before every sensitive prompt:
 * tonewall_recording_update_seconds), and call audit trails a verification found broken
 * (tonewall_audit_trails_broken_total: tampering, or a key dropped from AUDIT_KEY's ring too
 * soon). On the real app: the emulator's pause slowed, a trail edited in Redis.
 */
import { TokenAuth } from '../../../src/auth/tokens';
import { currentExpiry } from '../../support/values';
import { metricValue, PAYMENTS_NUMBER, startHarness, waitFor, type Harness } from '../../support/harness';

const SLOW_PAUSE_MS = 400;

let h: Harness;
let supervisor: string;
beforeAll(async () => {
  h = await startHarness();
  supervisor = new TokenAuth(h.config.agentJwtSecret).sign({ sub: 'sup', endpoint: 'client:sup', role: 'supervisor' });
});
afterAll(async () => h?.close());

/** a payments call through its card (the recording paused for it, and resumed), to the bridge's handoff */
async function paymentsCall() {
  const answers = ['1#', '73920584#', '4111111111111111#', currentExpiry(1), '123#'];
  let i = 0;
  const call = await h.emulator.placeCall({ from: '+15551234567', to: PAYMENTS_NUMBER, voiceUrl: h.voiceUrl, onGather: () => answers[i++] ?? null });
  await waitFor(() => call.transcript.some((t) => t.verb === 'Connect/Stream'), 'the bridge handoff', 10_000);
  return call;
}

test("a recording pause is timed to Twilio's answer, by action and outcome", async () => {
  const count = () => metricValue(h, 'tonewall_recording_update_seconds_count', { action: 'pause', outcome: 'ok' });
  const sum = () => metricValue(h, 'tonewall_recording_update_seconds_sum', { action: 'pause', outcome: 'ok' });
  const [countBefore, sumBefore] = [await count(), await sum()];
  h.emulator.faults.recordingPause = { delayMs: SLOW_PAUSE_MS, times: 1 };
  const call = await paymentsCall();
  await call.hangup();
  expect(await count()).toBe(countBefore + 1);
  // Twilio's slow answer is in it: at least the delay, well under the 3 s ack timeout
  expect((await sum()) - sumBefore).toBeGreaterThanOrEqual(SLOW_PAUSE_MS / 1000);
  expect((await sum()) - sumBefore).toBeLessThan(3);
  // (this flow's stretch ends in the bridge, its recording stopped, not resumed: a resume's timing is test/unit/recording/controller.test.ts's)
}, 30_000);

test("a call's audit trail edited in the store is counted broken when it is verified, by its first bad link's reason", async () => {
  const call = await paymentsCall();
  await call.hangup();
  const audit = () => fetch(`${h.url}/v1/calls/${call.sid}/audit`, { headers: { authorization: `Bearer ${supervisor}` } });
  const broken = () => metricValue(h, 'tonewall_audit_trails_broken_total', { reason: 'mac' });
  const before = await broken();
  // an intact trail verifies and counts nothing
  expect(((await (await audit()).json()) as { verified: boolean }).verified).toBe(true);
  expect(await broken()).toBe(before);
  const key = h.app.services.keys.audit(call.sid);
  const stored = JSON.parse((await h.redisStore!.get(key))!) as Record<string, unknown>[];
  stored[1].type = 'recording.resumed';
  await h.redisStore!.set(key, JSON.stringify(stored), 600);
  expect(await (await audit()).json()).toMatchObject({ verified: false, brokenAt: { seq: 2, reason: 'mac' } });
  expect(await broken()).toBe(before + 1);
}, 30_000);
