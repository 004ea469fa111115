/**
 * The audit export over days (CONTRACT §7), on the real service and Redis, over HTTP: an SIEM
 * pulling each day's export must get every entry written that day, including those appended to a
 * trail that began on an earlier day (a call past midnight, an erasure months on), and each
 * trail once per export however many of its days the range covers.
 */
import { type Harness, metricValue, startHarness } from '../../support/harness';
import { newCallSid } from '../../support/fixtures';
import { token } from '../../support/agents';

/** only Date is faked: Redis, HTTP and the service's timers run on real time */
const ONLY_DATE = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'requestIdleCallback',
  'cancelIdleCallback',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] as const;

interface Line {
  callSid: string;
  verified: boolean;
  brokenAt?: { seq: number; reason: string };
  entry?: { seq: number; type: string; at: string };
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  jest.useRealTimers();
  await h.close();
});
afterEach(() => jest.useRealTimers());

async function exportOf(from: string, to: string): Promise<Line[]> {
  const res = await fetch(`${h.url}/v1/audit/export?from=${from}&to=${to}`, { headers: { authorization: `Bearer ${token(h, 'root', 'admin')}` } });
  expect(res.status).toBe(200);
  return (await res.text())
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Line);
}

test("a day's export holds the entries appended that day to a trail begun on an earlier day, and a range sends each trail once", async () => {
  const audit = h.app.services.audit;
  const sid = newCallSid();
  jest.useFakeTimers({ doNotFake: [...ONLY_DATE] });
  jest.setSystemTime(new Date('2026-03-01T23:59:30Z'));
  await audit.append(sid, { type: 'call.started' });
  // the call goes on past midnight
  jest.setSystemTime(new Date('2026-03-02T00:00:30Z'));
  await audit.append(sid, { type: 'call.ended', twilioStatus: 'completed' });
  // its caller is erased months later
  jest.setSystemTime(new Date('2026-06-01T10:00:00Z'));
  await audit.append(sid, { type: 'subject.erased', receiptId: 'r-1' });

  const types = (lines: Line[]) => lines.filter((l) => l.callSid === sid).map((l) => [l.entry?.seq, l.entry?.type, l.verified]);
  const whole = [
    [1, 'call.started', true],
    [2, 'call.ended', true],
    [3, 'subject.erased', true],
  ];
  // each day's export has the trail (whole, so it verifies from its first entry)
  expect(types(await exportOf('2026-03-01', '2026-03-01'))).toEqual(whole);
  expect(types(await exportOf('2026-03-02', '2026-03-02'))).toEqual(whole);
  expect(types(await exportOf('2026-06-01', '2026-06-01'))).toEqual(whole);
  // a range covering all three days sends it once
  expect(types(await exportOf('2026-03-01', '2026-06-01'))).toEqual(whole);
  expect(types(await exportOf('2026-03-02', '2026-06-01'))).toEqual(whole);
  // a day it got nothing on does not list it
  expect(types(await exportOf('2026-04-01', '2026-04-01'))).toEqual([]);
});

test('a trail deleted whole from the store is reported missing by the export, and counted as broken', async () => {
  const audit = h.app.services.audit;
  const kept = newCallSid();
  const deleted = newCallSid();
  for (const sid of [kept, deleted]) {
    await audit.append(sid, { type: 'call.started' });
    await audit.append(sid, { type: 'call.ended', twilioStatus: 'completed' });
  }
  // an insider with Redis access removes one call's trail
  await h.redisStore!.del(audit.trailKey(deleted));
  expect(await h.redisStore!.get(audit.trailKey(kept))).not.toBeNull();
  const before = await metricValue(h, 'tonewall_audit_trails_broken_total', { reason: 'missing' });

  const today = new Date().toISOString().slice(0, 10);
  const lines = await exportOf(today, today);
  expect(lines.filter((l) => l.callSid === kept).map((l) => [l.entry?.seq, l.verified])).toEqual([
    [1, true],
    [2, true],
  ]);
  expect(lines.filter((l) => l.callSid === deleted)).toEqual([{ callSid: deleted, verified: false, brokenAt: { seq: 1, reason: 'missing' } }]);
  expect(await metricValue(h, 'tonewall_audit_trails_broken_total', { reason: 'missing' })).toBe(before + 1);
});

test("a trail begun on the retention's first day and written to since is exported once that day's index has expired", async () => {
  const audit = h.app.services.audit;
  const { store, keys } = h.app.services;
  const sid = newCallSid();
  jest.useFakeTimers({ doNotFake: [...ONLY_DATE] });
  // begun 400 days (AUDIT_RETENTION_DAYS) before the export: the retention's first day
  jest.setSystemTime(new Date('2025-02-01T08:00:00Z'));
  await audit.append(sid, { type: 'call.started' });
  // written to on a later day (its caller erased), so the trail is kept as long from then
  jest.setSystemTime(new Date('2025-05-01T10:00:00Z'));
  await audit.append(sid, { type: 'subject.erased', receiptId: 'r-2' });
  jest.setSystemTime(new Date('2026-03-08T12:00:00Z'));
  // that first day's index outlives its last write by the retention only: by now it has expired
  await store.del(keys.auditDay('2025-02-01'));

  const lines = (await exportOf('2025-01-01', '2026-03-08')).filter((l) => l.callSid === sid);
  expect(lines.map((l) => [l.entry?.seq, l.entry?.type, l.verified])).toEqual([
    [1, 'call.started', true],
    [2, 'subject.erased', true],
  ]);
});
