/**
 * Retention (issue 6): every record has a TTL, so nothing about a call outlives it. On Redis a
 * scan after a whole call (IVR, vault, bridge, delivery state, audit) finds every key with a TTL
 * no longer than the audit trail's retention (400 days by default); on the embedded store, whose clock can be moved,
 * moving past the longest TTL leaves nothing at all.
 */
import { AUDIT_TTL_SECONDS } from '../../src/audit';
import { EmbeddedStore } from '../../src/store';
import { PAYMENTS_NUMBER, startHarness, waitFor, type Harness } from '../support/harness';
import { currentExpiry } from '../support/values';

async function payAndHangUp(h: Harness) {
  const answers = ['73920584#', '4111111111111111#', currentExpiry(2), '123#'];
  const call = await h.emulator.placeCall({
    from: '+15559990000',
    to: PAYMENTS_NUMBER,
    voiceUrl: h.voiceUrl,
    statusCallback: h.statusUrl,
    onGather: () => answers.shift() ?? null,
  });
  await call.legReady;
  await call.hangup();
  await call.ended;
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'ended', 'the call to end');
  return call;
}

test('Redis: after a whole call every key has a TTL, none longer than the audit trail', async () => {
  const h = await startHarness();
  try {
    const call = await payAndHangUp(h);
    const keys = await h.scan();
    expect(keys.some((k) => k.key.includes(call.sid))).toBe(true);
    for (const k of keys) {
      expect(k.ttl).toBeGreaterThan(0);
      expect(k.ttl).toBeLessThanOrEqual(AUDIT_TTL_SECONDS);
    }
  } finally {
    await h.close();
  }
});

test('embedded store: once the longest TTL has passed, nothing of the call remains', async () => {
  let offsetMs = 0;
  const store = new EmbeddedStore(() => Date.now() + offsetMs);
  const h = await startHarness({ store: 'embedded', build: { store } });
  try {
    const call = await payAndHangUp(h);
    expect(store.keys().some((k) => k.includes(call.sid))).toBe(true);
    offsetMs = (AUDIT_TTL_SECONDS - 60) * 1000;
    // just before the audit trail's TTL only the (PII-free) audit trail is left
    expect(store.keys().every((k) => k.includes(':audit:'))).toBe(true);
    offsetMs = (AUDIT_TTL_SECONDS + 1) * 1000;
    expect(store.keys()).toEqual([]);
  } finally {
    await h.close();
    await store.close();
  }
});
