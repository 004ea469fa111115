/**
 * An audit entry whose append the store fails (Redis down, frozen, reconnecting) is held and
 * written in the background once the store is back (audit/held.ts): in its call's order, the
 * trail verifying, and nothing counted not-written. Held past the retry bound, past the cap of
 * entries held, or at a shutdown whose last try fails, it is counted not-written and logged.
 * Real service, a private Redis killed (a crash: it comes back with its append-only file) or
 * frozen, real webhooks, /metrics.
 */
import Redis from 'ioredis';
import type { AuditRetry } from '../../../src/audit';
import { newCallSid } from '../../support/fixtures';
import { type Harness, metricValue, startHarness, waitFor, webhookParams } from '../../support/harness';
import { PrivateRedis } from '../../support/private-redis';

const PLAIN_NUMBER = '+15005550018';
/** a flow that opens plainly: its first webhook is one write (twilio/first-webhook.ts) */
const FLOWS = {
  'opens-plainly': [
    'id: opens-plainly',
    `numbers: ["${PLAIN_NUMBER}"]`,
    'steps:',
    '  - say: "Welcome."',
    '  - collect: menu',
    '    kind: digits',
    '    sensitive: false',
    '    minLength: 1',
    '    maxLength: 1',
    '    prompt: "Press 1."',
    'handoff:',
    '  mode: dial',
    '  to: "client:alice"',
  ].join('\n'),
};

const notWritten = (h: Harness) => metricValue(h, 'tonewall_audit_appends_failed_total', { reason: 'not-written' });
const held = (h: Harness) => metricValue(h, 'tonewall_audit_appends_held');
const writtenLate = (h: Harness) => metricValue(h, 'tonewall_audit_appends_written_late_total');
const types = async (h: Harness, callSid: string) => (await h.app.services.audit.list(callSid)).map((e) => e.type);

/** a harness on `redis`, its held entries retried as `retry` says */
function harnessOn(redis: () => PrivateRedis, retry: Partial<AuditRetry>): () => Harness {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ flows: FLOWS, env: { REDIS_URL: redis().url }, build: { auditRetry: retry } });
  });
  afterAll(async () => h?.close());
  return () => h;
}

/** the service's store answers again (it reconnects on its own after Redis came back) */
async function storeBack(h: Harness): Promise<void> {
  await waitFor(
    () =>
      h.app.services.store.ping().then(
        () => true,
        () => false,
      ),
    'the store to answer again',
    10_000,
  );
}

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await PrivateRedis.start({ persist: true });
});
afterAll(async () => redis?.close());

describe('an outage the retries outlast', () => {
  const h = harnessOn(() => redis, { firstDelayMs: 100, maxDelayMs: 400, giveUpAfterMs: 60_000 });

  test('entries appended while Redis is down are written after it, in order; the trail verifies and none counts not-written', async () => {
    const audit = h().app.services.audit;
    const sid = newCallSid();
    await audit.append(sid, { type: 'call.started' });
    const [failedBefore, lateBefore] = [await notWritten(h()), await writtenLate(h())];

    await redis.stop();
    // each resolves: held, the action it records goes on
    await audit.append(sid, { type: 'test.first' });
    await audit.append(sid, { type: 'test.second', tries: 2 });
    await audit.append(sid, { type: 'test.third' });
    expect(await held(h())).toBe(3);

    await redis.up();
    await waitFor(async () => (await held(h())) === 0, 'the held entries to be written', 15_000);
    const v = await audit.verify(sid);
    expect(v.verified).toBe(true);
    expect(v.entries.map((e) => [e.seq, e.type])).toEqual([
      [1, 'call.started'],
      [2, 'test.first'],
      [3, 'test.second'],
      [4, 'test.third'],
    ]);
    expect(v.entries[2].tries).toBe(2);
    // each keeps the time it happened, before Redis came back
    const at = v.entries.map((e) => e.at);
    expect([...at].sort()).toEqual(at);
    expect(await notWritten(h())).toBe(failedBefore);
    expect(await writtenLate(h())).toBe(lateBefore + 3);
    expect(h().logs.text).toContain('audit entries written after a retry');
  });

  test('a try whose reply was lost (Redis frozen) and that landed later is not written twice', async () => {
    const audit = h().app.services.audit;
    const sid = newCallSid();
    await audit.append(sid, { type: 'call.started' });
    const failedBefore = await notWritten(h());

    redis.freeze();
    try {
      // its compare-and-set waits in the frozen Redis, past the store's bound: held, then landing on the thaw
      await audit.append(sid, { type: 'test.first' });
      await audit.append(sid, { type: 'test.second' });
      expect(await held(h())).toBe(2);
    } finally {
      redis.thaw();
    }
    await waitFor(async () => (await held(h())) === 0, 'the held entries to be written', 15_000);
    const v = await audit.verify(sid);
    expect(v.verified).toBe(true);
    expect(v.entries.map((e) => e.type)).toEqual(['call.started', 'test.first', 'test.second']);
    expect(await notWritten(h())).toBe(failedBefore);
  });
});

describe('held entries and the webhook path; the last try', () => {
  // no retry of its own within the test: only the writes that carry the held entries write them
  const h = harnessOn(() => redis, { firstDelayMs: 60_000, maxDelayMs: 60_000, giveUpAfterMs: 120_000 });

  test("a webhook's write carries the call's held entries ahead of its own", async () => {
    const sid = newCallSid();
    expect((await h().emulator.signedPost(h().voiceUrl, webhookParams(sid, PLAIN_NUMBER))).body).toContain('<Gather');
    await redis.stop();
    await h().app.services.audit.append(sid, { type: 'test.held' });
    await redis.up();
    await storeBack(h());
    const lateBefore = await writtenLate(h());

    const res = await h().emulator.signedPost(h().statusUrl, webhookParams(sid, PLAIN_NUMBER, { CallStatus: 'completed' }));
    expect(res.status).toBe(204);
    expect(await types(h(), sid)).toEqual(['call.started', 'test.held', 'call.ended']);
    expect((await h().app.services.audit.verify(sid)).verified).toBe(true);
    expect(await held(h())).toBe(0);
    expect(await writtenLate(h())).toBe(lateBefore + 1);
  });

  test("a call's first webhook after an entry of its own was held writes that entry first", async () => {
    const sid = newCallSid();
    await redis.stop();
    // a drop-in capture's `dropin.recording`, say, appended before the call's record is created
    await h().app.services.audit.append(sid, { type: 'test.held' });
    await redis.up();
    await storeBack(h());

    expect((await h().emulator.signedPost(h().voiceUrl, webhookParams(sid, PLAIN_NUMBER))).body).toContain('<Gather');
    expect(await types(h(), sid)).toEqual(['test.held', 'call.started']);
    expect((await h().app.services.audit.verify(sid)).verified).toBe(true);
    expect(await held(h())).toBe(0);
  });

  test('at shutdown, what the last try does not write is counted not-written and logged', async () => {
    const sid = newCallSid();
    const failedBefore = await notWritten(h());
    await redis.stop();
    try {
      await h().app.services.audit.append(sid, { type: 'test.held' });
      expect(await notWritten(h())).toBe(failedBefore);
      // what the app's close does before it closes the store (its own close then finds nothing held)
      await h().app.services.audit.close();
    } finally {
      await redis.up();
    }
    expect(await notWritten(h())).toBe(failedBefore + 1);
    const line = h()
      .logs.lines.map((l) => JSON.parse(l))
      .find((l) => l.msg?.startsWith('audit entries not written') && l.callSid === sid);
    expect(line).toMatchObject({ why: 'stopped', types: ['test.held'] });
  });
});

describe('entries the retries give up', () => {
  const h = harnessOn(() => redis, { firstDelayMs: 100, maxDelayMs: 200, giveUpAfterMs: 3_000, maxHeld: 3 });

  test('an outage longer than the retry bound counts them not-written, and logs them', async () => {
    const audit = h().app.services.audit;
    const sid = newCallSid();
    await audit.append(sid, { type: 'call.started' });
    const failedBefore = await notWritten(h());

    await redis.stop();
    try {
      await audit.append(sid, { type: 'test.lost' });
      await audit.append(sid, { type: 'test.lost-too' });
      await waitFor(async () => (await notWritten(h())) === failedBefore + 2, 'the held entries to be given up', 10_000);
      expect(await held(h())).toBe(0);
      const line = h()
        .logs.lines.map((l) => JSON.parse(l))
        .find((l) => l.msg?.startsWith('audit entries not written') && l.callSid === sid);
      expect(line).toMatchObject({ why: 'retries', types: ['test.lost', 'test.lost-too'] });
    } finally {
      await redis.up();
    }
    await storeBack(h());
    // the trail goes on without them, and verifies
    await audit.append(sid, { type: 'test.after' });
    expect(await types(h(), sid)).toEqual(['call.started', 'test.after']);
    expect((await audit.verify(sid)).verified).toBe(true);
  });

  test('past the cap of entries held, the oldest is given up and counted', async () => {
    const audit = h().app.services.audit;
    const sid = newCallSid();
    await audit.append(sid, { type: 'call.started' });
    const failedBefore = await notWritten(h());

    await redis.stop();
    for (const type of ['test.one', 'test.two', 'test.three', 'test.four']) await audit.append(sid, { type });
    expect(await notWritten(h())).toBe(failedBefore + 1);
    expect(await held(h())).toBe(3);
    await redis.up();
    await waitFor(async () => (await held(h())) === 0, 'the held entries to be written', 10_000);
    expect(await types(h(), sid)).toEqual(['call.started', 'test.two', 'test.three', 'test.four']);
    expect((await audit.verify(sid)).verified).toBe(true);
    expect(await notWritten(h())).toBe(failedBefore + 1);
  });
});

describe('at shutdown', () => {
  test("held entries get one last try in the app's close, written when the store is back", async () => {
    // no retry of its own within the test: only the shutdown's last try
    const h = await startHarness({
      flows: FLOWS,
      env: { REDIS_URL: redis.url },
      build: { auditRetry: { firstDelayMs: 60_000, maxDelayMs: 60_000, giveUpAfterMs: 120_000 } },
    });
    const sid = newCallSid();
    try {
      await redis.stop();
      await h.app.services.audit.append(sid, { type: 'test.held' });
      await redis.up();
      await storeBack(h);
    } finally {
      await h.close();
    }
    const r = new Redis(redis.url);
    try {
      const trail = JSON.parse((await r.get(`${h.keyPrefix}audit:${sid}`)) ?? '[]') as { type: string }[];
      expect(trail.map((e) => e.type)).toEqual(['test.held']);
    } finally {
      r.disconnect();
    }
  });
});
