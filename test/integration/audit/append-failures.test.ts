/**
 * An audit entry that is not stored is counted (PCI DSS 10.7: a failure of audit logging is
 * detected and alerted): its callers log and go on, so without the count a gap in a trail shows
 * nowhere an operator watches. Real service, Redis and /metrics.
 */
import { type Harness, metricValue, startHarness } from '../../support/harness';
import { newCallSid } from '../../support/fixtures';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const failed = (reason: string) => metricValue(h, 'tonewall_audit_appends_failed_total', { reason });

test('an entry the store does not take (an unreadable trail) counts as not-written', async () => {
  const audit = h.app.services.audit;
  const sid = newCallSid();
  await audit.append(sid, { type: 'call.started' });
  // the trail as an insider or a fault left it: not JSON, so nothing can be chained onto it
  await h.redisStore!.set(audit.trailKey(sid), '{not json', 600);
  const before = await failed('not-written');
  // another instance's guess is the trail as it was: the compare-and-set refusal reads it as it is
  await expect(audit.append(sid, { type: 'call.ended', twilioStatus: 'completed' })).rejects.toThrow(/unreadable/);
  expect(await failed('not-written')).toBe(before + 1);
});

test('an entry refused as personal data counts as refused', async () => {
  const before = await failed('refused');
  await expect(h.app.services.audit.append(newCallSid(), { type: 'field.collected', note: '4111 1111 1111 1111' })).rejects.toThrow(/personal data/);
  expect(await failed('refused')).toBe(before + 1);
});
