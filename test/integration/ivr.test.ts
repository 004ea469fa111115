/**
 * Issue 3 acceptance: the payments flow end to end through the Twilio emulator, real HTTP and
 * a real Redis. Every sensitive <Gather> is answered while the emulator's recording is paused;
 * failures fail closed; nothing captured reaches Redis or the log stream in plain text.
 */
import { currentExpiry, holdsValue } from '../support/values';
import { PAYMENTS_NUMBER, SUPPORT_NUMBER, startHarness, waitFor, type Harness } from '../support/harness';
import { PrivateRedis } from '../support/private-redis';
import { TokenAuth } from '../../src/auth/tokens';
import { CALL_TTL_SECONDS } from '../../src/calls/session';

const CALLER = '+15551234567';
const ACCOUNT = '73920584';
const CARD = '4111111111111111';
const CVV = '123';

function answers(values: string[]) {
  let i = 0;
  return () => values[i++] ?? null;
}

describe('secure IVR capture', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness();
    token = new TokenAuth(h.config.agentJwtSecret).sign({ sub: 'sup', endpoint: 'client:sup', role: 'supervisor' });
  });
  afterAll(async () => h.close());

  /** the call's view as a supervisor sees it, from `on` (the suite's harness unless a test has its own) */
  const getCall = async (sid: string, on: Harness = h) => {
    const tok = on === h ? token : new TokenAuth(on.config.agentJwtSecret).sign({ sub: 'sup', endpoint: 'client:sup', role: 'supervisor' });
    const r = await fetch(`${on.url}/v1/calls/${sid}`, { headers: { authorization: `Bearer ${tok}` } });
    return { status: r.status, body: (await r.json()) as any };
  };

  test('payments flow: recorded menu, sensitive gathers answered while paused, stopped before the bridge, masked handoff', async () => {
    const expiry = currentExpiry(1);
    const call = await h.emulator.placeCall({
      from: CALLER,
      to: PAYMENTS_NUMBER,
      voiceUrl: h.voiceUrl,
      statusCallback: h.statusUrl,
      onGather: answers(['1#', `${ACCOUNT}#`, `${CARD}#`, expiry, `${CVV}#`]),
    });
    await waitFor(() => call.transcript.some((t: any) => t.verb === 'Connect/Stream' || t.verb === 'Connect'), 'the bridge handoff', 10000);

    // the recording began with the first document (menu: nothing sensitive) by <Start><Recording>,
    // never over REST while the call was ringing
    expect(call.transcript[0]).toMatchObject({ verb: 'Start/Recording', channels: 'dual' });
    expect(call.recordings).toHaveLength(1);
    expect(call.recordings[0].toJson(h.config.twilio.accountSid)).toMatchObject({ source: 'StartCallRecordingTwiML', channels: 2 });
    const timeline = h.emulator.timelineFor(call.sid);
    expect(timeline.filter((e: any) => e.type === 'rest' && e.method === 'POST' && /Recordings\.json$/.test(e.path))).toEqual([]);
    // the menu was answered while recording, every sensitive gather while paused
    expect(call.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress', 'paused', 'paused', 'paused', 'paused']);
    const recs = timeline.filter((e: any) => e.type === 'recording').map((e: any) => e.status);
    // started, paused before the account, stopped before the bridge (not resumed for the closing
    // words first: only words and the bridge follow the last sensitive field)
    expect(recs).toEqual(['in-progress', 'paused', 'stopped']);
    const firstSensitive = timeline.filter((e: any) => e.type === 'gather')[1];
    const firstPause = timeline.find((e: any) => e.type === 'recording' && e.status === 'paused')!;
    expect(firstPause.t).toBeLessThan(firstSensitive.t);
    const stopped = timeline.find((e: any) => e.type === 'recording' && e.status === 'stopped')!;
    const bridge = timeline.find((e: any) => e.type === 'twiml-verb' && e.entry.verb === 'Connect/Stream')!;
    expect(stopped.t).toBeLessThan(bridge.t);
    // the recording's SID came back with Twilio's in-progress callback and is on the call
    await waitFor(async () => (await getCall(call.sid)).body.recordings?.[0]?.sid, 'the recording SID on the call');
    expect((await getCall(call.sid)).body.recordings).toEqual([{ leg: 'caller', sid: call.recordings[0].sid, status: 'stopped' }]);

    // the caller's number is vaulted for as long as the call record, captured values for VAULT_TTL_SECONDS
    const session = (await h.app.services.calls.get(call.sid))!;
    const keyOf = h.app.services.keys;
    expect(await h.redisStore!.ttl(keyOf.vault(session.fromToken!))).toBeGreaterThan(CALL_TTL_SECONDS - 60);
    const cardTtl = await h.redisStore!.ttl(keyOf.vault(session.fields.card.token!));
    expect(cardTtl).toBeGreaterThan(0);
    expect(cardTtl).toBeLessThanOrEqual(h.config.vaultTtlSeconds);

    const { status, body } = await getCall(call.sid);
    expect(status).toBe(200);
    expect(body.fields.card).toEqual({ kind: 'card-number', masked: '************1111', last4: '1111', brand: 'visa', valid: true });
    expect(body.fields.account).toMatchObject({ kind: 'digits', masked: '********', valid: true });
    expect(body.fields.menu).toMatchObject({ kind: 'digits', masked: '*', valid: true });
    expect(body.fields.expiry).toMatchObject({ kind: 'expiry', masked: '****', valid: true });
    expect(body.fields.cvv).toMatchObject({ kind: 'security-code', masked: '***', valid: true });
    expect(body.from).toBe('+*******4567');

    await call.hangup();
    await call.ended;
    await waitFor(async () => (await getCall(call.sid)).body.state === 'ended', 'the call to end');

    // nothing keyed, nor the full caller number, anywhere in Redis or the logs
    const keys = await h.scan();
    expect(keys.length).toBeGreaterThan(0);
    const everything = keys.map((k) => `${k.key} ${k.content}`).join('\n');
    for (const secret of [CARD, ACCOUNT, expiry, CALLER, CALLER.slice(1)]) {
      expect(holdsValue(everything, secret)).toBe(false);
      expect(holdsValue(h.logs.text, secret)).toBe(false);
    }
    expect(keys.filter((k) => k.ttl < 0)).toEqual([]);
    // the security code is 3 digits: look for it only as a whole JSON value
    expect(h.logs.text).not.toMatch(new RegExp(`"${CVV}"`));
    expect(everything).not.toMatch(new RegExp(`"${CVV}"`));
  });

  test('dial handoff: a flow whose first step is sensitive records from after that step; only the dialled agent sees the masked call', async () => {
    const call = await h.emulator.placeCall({ from: '+15550004444', to: SUPPORT_NUMBER, voiceUrl: h.voiceUrl, onGather: answers(['14021985']) });
    await waitFor(() => call.transcript.some((t: any) => t.verb === 'Dial'), 'the dial', 10000);
    const dial = call.transcript.find((t: any) => t.verb === 'Dial') as any;
    expect(dial).toMatchObject({ targetKind: 'Client', target: 'alice' });
    // the date of birth was keyed with nothing recording; the recording starts with the handoff
    expect(call.gathers[0].recordingStatus).toBe('none');
    const verbs = call.transcript.map((t: any) => t.verb);
    expect(verbs.indexOf('Start/Recording')).toBeGreaterThan(verbs.indexOf('Gather'));
    expect(verbs.indexOf('Start/Recording')).toBeLessThan(verbs.indexOf('Dial'));
    // (the emulated <Dial> ends at once, and the call with it: the recording's start is on the timeline)
    const started = h.emulator.timelineFor(call.sid).find((e: any) => e.type === 'recording' && e.status === 'in-progress') as any;
    const gathered = h.emulator.timelineFor(call.sid).find((e: any) => e.type === 'gather') as any;
    expect(started.t).toBeGreaterThan(gathered.t);
    expect(call.recordings[0].toJson(h.config.twilio.accountSid)).toMatchObject({ source: 'StartCallRecordingTwiML' });
    const auth = new TokenAuth(h.config.agentJwtSecret);
    const alice = auth.sign({ sub: 'alice', endpoint: 'client:alice', role: 'agent' });
    const bob = auth.sign({ sub: 'bob', endpoint: 'client:bob', role: 'agent' });
    const asAlice = await fetch(`${h.url}/v1/calls/${call.sid}`, { headers: { authorization: `Bearer ${alice}` } });
    expect(asAlice.status).toBe(200);
    expect(await asAlice.json()).toMatchObject({ state: 'dialed', fields: { dob: { kind: 'date', masked: '********', valid: true } } });
    expect((await fetch(`${h.url}/v1/calls/${call.sid}`, { headers: { authorization: `Bearer ${bob}` } })).status).toBe(404);
    expect((await fetch(`${h.url}/v1/calls/${call.sid}`)).status).toBe(401);
    expect((await fetch(`${h.url}/v1/calls/${call.sid}`, { headers: { authorization: 'Bearer not.a.jwt' } })).status).toBe(401);
    await call.hangup();
  });

  test("dial handoff after a first sensitive field that ended on the caller's silence: the guard, then the recording starts and the agent is dialled (never a silent hangup)", async () => {
    // the caller never keys the date of birth: its attempts end on the timeout, the field fails, a guard
    // waits out the caller's silence, and the recording (not started yet) starts with the handoff after it
    const call = await h.emulator.placeCall({ from: '+15550004445', to: SUPPORT_NUMBER, voiceUrl: h.voiceUrl, onGather: () => null });
    await waitFor(() => call.transcript.some((t: any) => t.verb === 'Dial') || call.status === 'completed', 'the dial, or the call over', 15000);
    const verbs = call.transcript.map((t: any) => t.verb);
    expect(verbs.filter((v) => v === 'Gather')).toHaveLength(4); // three attempts, then the guard
    expect(verbs.slice(verbs.lastIndexOf('Gather') + 1)).toEqual(['Start/Recording', 'Dial']);
    expect(call.gathers.map((g) => g.recordingStatus)).toEqual(['none', 'none', 'none', 'none']);
    const { body } = await getCall(call.sid);
    expect(body).toMatchObject({ state: 'dialed', fields: { dob: { valid: false, reason: 'no-input' } } });
    await call.hangup();
  });

  test('a Luhn-failing card is asked again; after the attempts the field fails and the flow goes on', async () => {
    const call = await h.emulator.placeCall({
      from: '+15550001111',
      to: PAYMENTS_NUMBER,
      voiceUrl: h.voiceUrl,
      onGather: answers(['1#', '12345678#', '4111111111111112#', '4111111111111113#', '4111111111111114#', currentExpiry(2), '123#']),
    });
    await waitFor(() => call.gathers.length >= 7, 'seven gathers', 10000);
    const prompts = call.transcript.filter((t: any) => t.verb === 'Gather');
    expect(prompts.length).toBeGreaterThanOrEqual(7);
    const { body } = await getCall(call.sid);
    expect(body.fields.card.valid).toBe(false);
    expect(body.fields.card.reason).toMatch(/attempts-exhausted/);
    expect(body.fields.card.masked).not.toMatch(/\d/);
    expect(body.fields.card).not.toHaveProperty('last4');
    expect(body.fields.card).not.toHaveProperty('brand');
    expect(body.fields.expiry.valid).toBe(true);
    await call.hangup();
  });

  test('an entry longer than any field takes (a Gather without numDigits takes keys without limit) is asked again, not the apology', async () => {
    const call = await h.emulator.placeCall({
      from: '+15550001112',
      to: PAYMENTS_NUMBER,
      voiceUrl: h.voiceUrl,
      onGather: answers(['1#', `${'7'.repeat(70)}#`, `${ACCOUNT}#`]),
    });
    await waitFor(() => call.gathers.length >= 4 || call.status === 'completed', 'the card asked after the account, or the call over', 10000);
    const said = call.transcript.filter((t: any) => t.verb === 'Say').map((t: any) => t.text);
    expect(said).toContain('Sorry, that is not an account number.');
    expect(said.some((t: string) => /can't complete your request/.test(t))).toBe(false);
    expect(call.transcript.some((t: any) => t.verb === 'Hangup')).toBe(false);
    const { body } = await getCall(call.sid);
    expect(body.fields.account).toMatchObject({ valid: true });
    await call.hangup();
  });

  for (const fault of [{ status: 500 }, { delayMs: 4000 }]) {
    test(`recording pause fails (${JSON.stringify(fault)}): no sensitive gather, fields failed, caller reaches handoff`, async () => {
      h.emulator.faults.recordingPause = fault;
      try {
        const call = await h.emulator.placeCall({ from: '+15550002222', to: PAYMENTS_NUMBER, voiceUrl: h.voiceUrl, onGather: answers(['1#', '12345678#']) });
        await waitFor(() => call.transcript.some((t: any) => /Connect/.test(t.verb)), 'the handoff', 15000);
        // only the menu was asked: no sensitive gather after the refused pause
        expect(call.gathers).toHaveLength(1);
        expect((call.transcript.filter((t: any) => t.verb === 'Gather') as any[]).map((g) => g.prompt[0])).toEqual(['To pay a bill, press 1, then hash.']);
        const { body } = await getCall(call.sid);
        for (const f of ['account', 'card', 'expiry', 'cvv']) {
          expect(body.fields[f]).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
        }
        expect(body.recording.pauseFailed).toBe(true);
        await call.hangup();
      } finally {
        delete h.emulator.faults.recordingPause;
      }
    }, 30000);
  }

  test('the recording cannot be stopped before the bridge: it is paused for good instead, and the bridge goes ahead', async () => {
    h.emulator.faults.recordingStop = { status: 500 };
    try {
      const call = await h.emulator.placeCall({
        from: '+15550005555',
        to: PAYMENTS_NUMBER,
        voiceUrl: h.voiceUrl,
        onGather: answers(['1#', '12345678#', `${CARD}#`, currentExpiry(1), `${CVV}#`]),
      });
      await waitFor(() => call.transcript.some((t: any) => t.verb === 'Connect/Stream'), 'the bridge handoff', 10000);
      const recs = h.emulator
        .timelineFor(call.sid)
        .filter((e: any) => e.type === 'recording')
        .map((e: any) => e.status);
      expect(recs).toEqual(['in-progress', 'paused']);
      expect(call.recordingStatus).toBe('paused');
      const audit = (await h.app.services.audit.verify(call.sid)).entries;
      expect(audit.map((e: any) => e.type)).toContain('recording.held-paused');
      await call.hangup();
    } finally {
      delete h.emulator.faults.recordingStop;
    }
  });

  test('the recording can be neither stopped nor paused before the bridge: the caller hears an apology, no bridge (fail closed)', async () => {
    const call = await h.emulator.placeCall({
      from: '+15550006666',
      to: PAYMENTS_NUMBER,
      voiceUrl: h.voiceUrl,
      onGather: async (g) => {
        // the IVR goes through; the recording breaks down before the handoff
        if (g.index === 4) {
          h.emulator.faults.recordingStop = { status: 500 };
          h.emulator.faults.recordingPause = { status: 503 };
        }
        return ['1#', '12345678#', `${CARD}#`, currentExpiry(1), `${CVV}#`][g.index] ?? null;
      },
    });
    try {
      await call.ended;
      const verbs = call.transcript.map((t: any) => t.verb);
      expect(verbs).not.toContain('Connect/Stream');
      expect(call.transcript.slice(-2)).toEqual([
        expect.objectContaining({ verb: 'Say', text: expect.stringMatching(/can't connect you/) }),
        { verb: 'Hangup' },
      ]);
      const audit = (await h.app.services.audit.verify(call.sid)).entries;
      expect(audit.map((e: any) => e.type)).toContain('recording.stop-failed');
      expect(h.app.services.bridges.get(call.sid)).toBeUndefined();
      expect(h.emulator.timelineFor(call.sid).filter((e: any) => e.type === 'stream-open')).toEqual([]);
    } finally {
      delete h.emulator.faults.recordingStop;
      delete h.emulator.faults.recordingPause;
    }
  });

  test('50 simultaneous calls each end with their own masked fields', async () => {
    // a Redis and an app of the test's own: 50 calls at once are this test's load, not a neighbour's
    // (the run's other suites share the run's Redis, and its latency with it). What it proves is
    // that concurrent calls keep to their own fields; on a 2-core CI host with both jest workers
    // busy, its own 50 calls have left a command unanswered past the store's 500 ms bound (once a
    // session, 'Redis did not answer within 500 ms', every call's apology then correct), so the
    // bound is 3 s here: still a store that stops answering fails, within Twilio's 15 s. How
    // fast a webhook is answered is bench/webhook.ts's to measure, not this test's.
    const redis = await PrivateRedis.start();
    const h = await startHarness({ env: { REDIS_URL: redis.url }, storeCommandTimeoutMs: 3_000 });
    try {
      await fiftyCalls(h);
    } finally {
      await h.close();
      await redis.close();
    }
  }, 120_000);

  async function fiftyCalls(h: Harness): Promise<void> {
    const cards = ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117', '3566002020360505'];
    const brands = ['visa', 'mastercard', 'amex', 'discover', 'jcb'];
    const calls = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const card = cards[i % cards.length];
        const cvv = brands[i % cards.length] === 'amex' ? '1234#' : '123#';
        return h.emulator.placeCall({
          from: `+1555300${String(i).padStart(4, '0')}`,
          to: PAYMENTS_NUMBER,
          voiceUrl: h.voiceUrl,
          onGather: answers(['1#', `${String(10000000 + i)}#`, `${card}#`, currentExpiry(1 + (i % 12)), cvv]),
        });
      }),
    );
    // a call that misses its handoff says what it heard and what the service logged of it
    const handedOff = (c: (typeof calls)[number]) =>
      waitFor(() => c.transcript.some((t: any) => /Connect/.test(t.verb)), `handoff of ${c.sid}`, 45000).catch((e: Error) => {
        const heard = c.transcript.map((t: any) => t.verb).join(' > ');
        const logged = h.logs.lines
          .map((l) => JSON.parse(l) as { callSid?: string; level?: number; msg?: string; err?: unknown })
          .filter((l) => l.callSid === c.sid && Number(l.level) >= 40)
          .map((l) => `${l.msg}${l.err ? ` (${JSON.stringify(l.err)})` : ''}`);
        throw new Error(`${e.message}; heard: ${heard}; service warnings: ${logged.join(' | ') || 'none'}`);
      });
    await Promise.all(calls.map(handedOff));
    for (const [i, c] of calls.entries()) {
      const { body } = await getCall(c.sid, h);
      const card = cards[i % cards.length];
      expect(body.fields.card).toMatchObject({
        valid: true,
        last4: card.slice(-4),
        brand: brands[i % cards.length],
        masked: '*'.repeat(card.length - 4) + card.slice(-4),
      });
      expect(body.fields.account).toMatchObject({ valid: true, masked: '********' });
      expect(body.fields.cvv.valid).toBe(true);
      expect(body.from).toBe(`+*******${String(i).padStart(4, '0')}`);
    }
    await Promise.all(calls.map((c) => c.hangup()));
  }
});
