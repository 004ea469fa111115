/**
 * Calls whose end nobody reported (calls/sweep.ts). A number with no status callback, or a
 * status callback lost while the service was down: Twilio says nothing more of the call, and it
 * stayed live on the agents' list and in tonewall_calls_active. The sweep asks Twilio's REST API
 * about each live call left unchanged for a while and ends the ones that are over, once, however
 * many instances sweep and whatever status callback comes late.
 */
import { startTwilioEmulator, type EmulatedCall, type TwilioEmulator } from '../../tools/emulator';
import { token } from '../support/agents';
import { ACCOUNT_SID, AUTH_TOKEN, metricValue, PAYMENTS_NUMBER, startHarness, waitFor, type Harness } from '../support/harness';
import { uniquePrefix } from '../support/redis';
import { silentCaller as callerWhoKeysNothing } from '../support/silent-caller';

/** sweeps this often; a call unchanged for any time at all is looked up (the quiet wait is 5 min in service) */
const SWEEP = { sweepEveryMs: 150, sweepQuietMs: 0 };
const CALLER = '+15551230000';

let emulator: TwilioEmulator;
beforeAll(async () => {
  emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
});
afterAll(async () => emulator.close());

const silentCaller = (h: Harness): Promise<EmulatedCall> => callerWhoKeysNothing(emulator, h.voiceUrl, CALLER);

/** GETs of the call's resource: the sweep asking Twilio how it stands */
function statusReads(c: EmulatedCall): number {
  return emulator.timelineFor(c.sid).filter((e) => e.type === 'rest' && e.method === 'GET' && e.path.endsWith(`/Calls/${c.sid}.json`)).length;
}

const metric = (h: Harness, name: string, labels: Record<string, string> = {}) => metricValue(h, name, labels);

async function state(h: Harness, callSid: string): Promise<string | undefined> {
  const r = await fetch(`${h.url}/v1/calls/${callSid}`, { headers: { authorization: `Bearer ${token(h, 'sup', 'supervisor')}` } });
  return ((await r.json()) as { state?: string }).state;
}

describe('a call no status callback ended', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ emulator, keyPrefix: uniquePrefix('sweep'), build: SWEEP });
  });
  afterAll(async () => h.close());

  test('is ended once Twilio says it is over: off the active calls, into the ended ones, in its audit trail; a late status callback counts nothing again', async () => {
    const active0 = await metric(h, 'tonewall_calls_active');
    const ended0 = await metric(h, 'tonewall_calls_ended_total', { status: 'completed' });
    const swept0 = await metric(h, 'tonewall_calls_swept_total');
    const call = await silentCaller(h);
    expect(await metric(h, 'tonewall_calls_active')).toBe(active0 + 1);
    // still live: looked up, and left as it is
    await waitFor(() => statusReads(call) >= 2, 'the sweep to read the live call twice');
    expect(await state(h, call.sid)).toBe('ivr');
    expect(await metric(h, 'tonewall_calls_active')).toBe(active0 + 1);

    await call.hangup();
    await waitFor(async () => (await state(h, call.sid)) === 'ended', 'the sweep to end the call');
    expect(await metric(h, 'tonewall_calls_active')).toBe(active0);
    expect(await metric(h, 'tonewall_calls_ended_total', { status: 'completed' })).toBe(ended0 + 1);
    // the operator sees that a call's end came from the sweep: a number without its status callback
    expect(await metric(h, 'tonewall_calls_swept_total')).toBe(swept0 + 1);
    const trail = await h.app.services.audit.list(call.sid);
    expect(trail.filter((e) => e.type === 'call.ended')).toEqual([expect.objectContaining({ twilioStatus: 'completed', by: 'sweep' })]);

    // an ended call is not asked about again: a second caller's reads show the sweeps go on
    const reads = statusReads(call);
    const witness = await silentCaller(h);
    await waitFor(() => statusReads(witness) >= 2, 'two more sweeps');
    expect(statusReads(call)).toBe(reads);

    const late = await emulator.signedPost(h.statusUrl, {
      AccountSid: ACCOUNT_SID,
      CallSid: call.sid,
      From: CALLER,
      To: PAYMENTS_NUMBER,
      CallStatus: 'completed',
    });
    expect(late.status).toBe(204);
    expect(await metric(h, 'tonewall_calls_active')).toBe(active0 + 1);
    expect(await metric(h, 'tonewall_calls_ended_total', { status: 'completed' })).toBe(ended0 + 1);
    await witness.hangup();
    await waitFor(async () => (await state(h, witness.sid)) === 'ended', 'the second call to be swept');
    expect(await metric(h, 'tonewall_calls_active')).toBe(active0);
    expect(await metric(h, 'tonewall_calls_ended_total', { status: 'completed' })).toBe(ended0 + 2);
    // the caller's number is in no log line
    expect(h.logs.text).not.toContain('5551230000');
  });
});

describe('a call Twilio does not know', () => {
  test('is left as it is (REST credentials of another account must not end live calls), and the failed read is logged', async () => {
    const h = await startHarness({ emulator, keyPrefix: uniquePrefix('sweep404'), build: SWEEP });
    try {
      // a signed first webhook for a call the emulated account never placed: its REST API answers 404
      const callSid = 'CA' + 'e'.repeat(32);
      const first = await emulator.signedPost(h.voiceUrl, {
        AccountSid: ACCOUNT_SID,
        CallSid: callSid,
        From: CALLER,
        To: PAYMENTS_NUMBER,
        CallStatus: 'ringing',
      });
      expect(first.body).toContain('<Gather');
      const failedReads = () => h.logs.lines.filter((l) => l.includes('call sweep: status not read') && l.includes(callSid)).length;
      await waitFor(() => failedReads() >= 2, 'two sweeps to try the call');
      expect(await state(h, callSid)).toBe('ivr');
      expect(emulator.timelineFor(callSid).filter((e) => e.type === 'rest' && e.status === 404).length).toBeGreaterThanOrEqual(2);
    } finally {
      await h.close();
    }
  });
});

describe('two instances on one Redis', () => {
  test('each period one instance sweeps; the call is ended and counted once between them', async () => {
    const prefix = uniquePrefix('sweep2');
    const a = await startHarness({ emulator, keyPrefix: prefix, build: { sweepEveryMs: 1_000, sweepQuietMs: 0 } });
    const b = await startHarness({ emulator, keyPrefix: prefix, build: { sweepEveryMs: 1_000, sweepQuietMs: 0 } });
    try {
      const active = async () => (await metric(a, 'tonewall_calls_active')) + (await metric(b, 'tonewall_calls_active'));
      const ended = async () =>
        (await metric(a, 'tonewall_calls_ended_total', { status: 'completed' })) + (await metric(b, 'tonewall_calls_ended_total', { status: 'completed' }));
      const [active0, ended0] = [await active(), await ended()];
      const call = await silentCaller(a);
      expect(await active()).toBe(active0 + 1);
      const started = Date.now();
      await waitFor(() => statusReads(call) >= 5, 'five periods of the live call read', 10_000);
      // two instances with a timer each, and at most one read per period between them (the
      // first period's may come at its very start, the last at its end)
      const periods = (Date.now() - started) / 1_000;
      expect(statusReads(call)).toBeLessThanOrEqual(Math.floor(periods) + 2);

      await call.hangup();
      await waitFor(async () => (await state(a, call.sid)) === 'ended', 'the call to be swept');
      expect(await active()).toBe(active0);
      expect(await ended()).toBe(ended0 + 1);
      const trail = await a.app.services.audit.list(call.sid);
      expect(trail.filter((e) => e.type === 'call.ended')).toHaveLength(1);
    } finally {
      await b.close();
      await a.close();
    }
  }, 30_000);
});

describe('a call changed a moment ago', () => {
  test('is not looked up: whoever holds it will hear from its next webhook', async () => {
    const h = await startHarness({ emulator, keyPrefix: uniquePrefix('sweep3'), build: { sweepEveryMs: 150, sweepQuietMs: 60_000 } });
    try {
      const call = await silentCaller(h);
      await call.hangup();
      const sweeps = () => h.logs.lines.filter((l) => l.includes('"msg":"calls swept"')).length;
      const before = sweeps();
      await waitFor(() => sweeps() >= before + 2, 'two sweeps after the hangup');
      expect(h.logs.lines.filter((l) => l.includes('"msg":"calls swept"')).map((l) => (JSON.parse(l) as { looked: number }).looked)).not.toContain(1);
      expect(statusReads(call)).toBe(0);
      expect(await state(h, call.sid)).toBe('ivr');
    } finally {
      await h.close();
    }
  });
});
