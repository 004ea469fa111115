/**
 * Issue 12 (webhook speed): a new call's first webhook is one store write, the session with its
 * indexes and encrypted number, the audit trail with `call.started` and the replay memory of
 * the answer, all at once; when any of those records exists already it takes the general path.
 */
import { ACCOUNT_SID, SUPPORT_NUMBER, startHarness, type Harness } from '../support/harness';
import type { RedisStore } from '../../src/store';

const sid = (c: string) => 'CA' + c.repeat(32);
const CALLER = '+15557654321';

function voiceParams(callSid: string) {
  return { AccountSid: ACCOUNT_SID, ApiVersion: '2010-04-01', CallSid: callSid, CallStatus: 'ringing', Direction: 'inbound', From: CALLER, To: SUPPORT_NUMBER };
}

/** the store's writes and the reads a webhook would make, counted while `fn` runs */
async function storeCalls(store: RedisStore, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const methods = ['createAll', 'createWith', 'compareAndSet', 'update', 'multi', 'sadd', 'set', 'get', 'setIfAbsent', 'rpush', 'expire'] as const;
  const spies = methods.map((m) => jest.spyOn(store, m));
  try {
    await fn();
    return Object.fromEntries(methods.map((m, i) => [m, spies[i].mock.calls.length]).filter(([, n]) => n !== 0));
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

describe("a call's first webhook", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  test('is one store write holding the session, its indexes and number, the audit trail and the replay memory', async () => {
    const callSid = sid('7');
    let body = '';
    const calls = await storeCalls(h.redisStore!, async () => {
      const r = await h.emulator.signedPost(h.voiceUrl, voiceParams(callSid));
      expect(r.status).toBe(200);
      body = r.body;
    });
    expect(body).toContain('<Gather');
    expect(calls).toEqual({ createAll: 1 });

    const { calls: repo, audit, vault, subjectHash } = h.app.services;
    const session = await repo.get(callSid);
    expect(session).toMatchObject({ callSid, state: 'ivr', step: 1, attempt: 1, fromMasked: expect.stringMatching(/4321$/) });
    expect(JSON.stringify(session)).not.toContain(CALLER);
    expect(await vault.get(callSid, '__from', session!.fromToken!)).toBe(CALLER);
    expect(await repo.listSids()).toContain(callSid);
    expect(await repo.sidsForSubject(subjectHash(CALLER))).toEqual([callSid]);
    const trail = await audit.verify(callSid);
    expect(trail.verified).toBe(true);
    expect(trail.entries.map((e) => e.type)).toEqual(['call.started']);
    expect(await audit.callsOn(trail.entries[0].at.slice(0, 10))).toContain(callSid);
    const metrics = await (await fetch(h.metricsUrl)).text();
    expect(metrics).toMatch(/tonewall_calls_started_total [1-9]/);

    // a retry (other parameters, same call) is answered from the replay memory, changing nothing
    const keysBefore = (await h.scan()).length;
    const again = await h.emulator.signedPost(h.voiceUrl, { ...voiceParams(callSid), CallStatus: 'in-progress' });
    expect(again.body).toBe(body);
    expect(await repo.get(callSid)).toEqual(session);
    expect((await audit.list(callSid)).length).toBe(1);
    expect((await h.scan()).length).toBe(keysBefore);

    // the next append chains to the trail the first write created
    await audit.append(callSid, { type: 'test.marker' });
    expect((await audit.verify(callSid)).verified).toBe(true);
  });

  test('takes the general path when one of its records exists, and opens nothing for a call whose trail outlived its record', async () => {
    // the record erased (or expired) and the trail kept: the call is over, so its first webhook
    // again is a captured request resent, not a call to open afresh with the caller's number
    const callSid = sid('8');
    await h.app.services.audit.append(callSid, { type: 'test.earlier' });
    const envelopes = async () => (await h.scan()).filter((k) => k.key.startsWith(`${h.keyPrefix}vault:`)).map((k) => k.key);
    const envelopesBefore = await envelopes();
    const calls = await storeCalls(h.redisStore!, async () => {
      const r = await h.emulator.signedPost(h.voiceUrl, voiceParams(callSid));
      expect(r.status).toBe(200);
      expect(r.body).not.toMatch(/<Gather|<Say/);
    });
    // refused as a whole, then the replay claim, which read the trail: no session is created
    expect(calls.createAll).toBe(1);
    expect(calls.createWith ?? 0).toBe(0);
    const trail = await h.app.services.audit.verify(callSid);
    expect(trail.verified).toBe(true);
    expect(trail.entries.map((e) => e.type)).toEqual(['test.earlier']);
    expect(await h.app.services.calls.get(callSid)).toBeNull();
    expect(await envelopes()).toEqual(envelopesBefore);
  });

  test("Fastify's request lines keep their reqId for a webhook where they print (info and below)", async () => {
    // the harness logs at debug: the webhook's request gets its own child logger
    const callSid = sid('9');
    const from = h.logs.lines.length;
    expect((await h.emulator.signedPost(h.voiceUrl, voiceParams(callSid))).status).toBe(200);
    const lines = h.logs.lines.slice(from).map((l) => JSON.parse(l) as { msg?: string; reqId?: string; req?: { url?: string } });
    const incoming = lines.find((l) => l.msg === 'incoming request' && l.req?.url === '/twilio/voice');
    expect(incoming?.reqId).toEqual(expect.any(String));
    expect(lines.find((l) => l.msg === 'request completed' && l.reqId === incoming?.reqId)).toBeDefined();
  });
});

describe("a call's first webhook, logging at warn", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => h.close());

  test('makes no request child logger, and a refused signature is still logged, with its route', async () => {
    const child = jest.spyOn(Object.getPrototypeOf(h.app.log), 'child');
    try {
      expect((await h.emulator.signedPost(h.voiceUrl, voiceParams(sid('a')))).status).toBe(200);
      expect(child).not.toHaveBeenCalled();
    } finally {
      child.mockRestore();
    }
    const r = await fetch(`${h.url}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'AAAA' },
      body: 'CallSid=CA1',
    });
    expect(r.status).toBe(403);
    expect(h.logs.lines.map((l) => JSON.parse(l) as { msg?: string; route?: string }).find((l) => l.msg === 'twilio signature refused')).toMatchObject({
      route: 'voice',
    });
  });
  test("nor does a gather that logs nothing at warn; a line it does write carries the call's bindings", async () => {
    const callSid = sid('b');
    expect((await h.emulator.signedPost(h.voiceUrl, voiceParams(callSid))).status).toBe(200);
    // the call's logger is a child of the service's (serving.ts), made only to write a line
    const child = jest.spyOn(h.app.services.log, 'child');
    try {
      const r = await h.emulator.signedPost(`${h.publicUrl}/twilio/gather/1/1`, { ...voiceParams(callSid), CallStatus: 'in-progress', Digits: '01011990' });
      expect(r.body).toContain('<Dial');
      expect(child).not.toHaveBeenCalled();
      // a gather for a call the service does not hold fails its step, logged at error through the call's child
      const from = h.logs.lines.length;
      const unknown = await h.emulator.signedPost(`${h.publicUrl}/twilio/gather/1/1`, {
        ...voiceParams(sid('c')),
        CallStatus: 'in-progress',
        Digits: '01011990',
      });
      expect(unknown.status).toBe(200);
      expect(child).toHaveBeenCalledTimes(1);
      const lines = h.logs.lines.slice(from).map((l) => JSON.parse(l) as { msg?: string; callSid?: string; route?: string });
      expect(lines.find((l) => l.msg === 'webhook step failed: safe answer')).toMatchObject({ callSid: sid('c'), route: 'gather' });
    } finally {
      child.mockRestore();
    }
  });
});
