import { startTwilioEmulator, type TimelineEntry, type TwilioEmulator } from '../../../tools/emulator';
import { ACCOUNT_SID, AUTH_TOKEN, startFakeService, type FakeService, type ReceivedRequest } from './fake-service';

const CALLER = '+15551234567';
const NUMBER = '+15005550006';
const AGENT = '+15557654321';
/** the emulated second of these tests: ringing and talk run 20 times faster than real time */
const SECOND_MS = 50;

/**
 * A <Dial> to a party whose outcome the test chooses (faults.dialOutcome): Twilio's action
 * parameters for each outcome, its <Dial timeout> honoured, and what the caller hears next.
 */
describe('call driver: <Dial> outcomes', () => {
  let emulator: TwilioEmulator;
  let service: FakeService;

  beforeEach(async () => {
    emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    service = await startFakeService(AUTH_TOKEN);
    service.routes.set('/after-dial', (p) => (p.DialCallStatus === 'completed' ? '<Response/>' : '<Response><Say>Nobody answered.</Say><Hangup/></Response>'));
  });

  afterEach(async () => {
    await emulator.close();
    await service.close();
  });

  /** a call whose first document dials AGENT (with `attrs` on the <Dial>), and the action request it led to */
  async function dialCall(attrs = ''): Promise<{ action: ReceivedRequest; sid: string; transcript: unknown[]; dialEnd: TimelineEntry }> {
    service.routes.set('/voice', () => `<Response><Dial action="/after-dial"${attrs}><Number>${AGENT}</Number></Dial></Response>`);
    const call = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/voice` });
    await call.ended;
    const action = service.requests.find((r) => r.path === '/after-dial');
    if (!action) throw new Error('no dial action requested');
    expect(action.valid).toBe(true);
    const dialEnd = emulator.timelineFor(call.sid).find((e) => e.type === 'dial');
    if (!dialEnd) throw new Error('no dial on the timeline');
    return { action, sid: call.sid, transcript: call.transcript, dialEnd };
  }

  const dialParams = (r: ReceivedRequest) => Object.fromEntries(Object.entries(r.params).filter(([k]) => k.startsWith('Dial')));

  it('without a chosen outcome, answers at once and hangs up at once, as before', async () => {
    const { action } = await dialCall();
    expect(dialParams(action)).toEqual({
      DialCallStatus: 'completed',
      DialCallSid: expect.stringMatching(/^CA[0-9a-f]{32}$/),
      DialBridged: 'true',
      DialCallDuration: '0',
    });
  });

  it('completed: rings, answers, talks, then the action carries the talk time and the call goes on from its answer', async () => {
    emulator.faults.dialOutcome = { status: 'completed', ringSeconds: 2, talkSeconds: 3, secondMs: SECOND_MS };
    const before = Date.now();
    const { action, sid, dialEnd, transcript } = await dialCall();
    expect(Date.now() - before).toBeGreaterThanOrEqual(5 * SECOND_MS);
    expect(dialParams(action)).toEqual({
      DialCallStatus: 'completed',
      DialCallSid: expect.stringMatching(/^CA[0-9a-f]{32}$/),
      DialBridged: 'true',
      DialCallDuration: '3',
    });
    expect(action.params.DialCallSid).not.toBe(sid);
    expect(action.params).toMatchObject({ CallSid: sid, CallStatus: 'in-progress' });
    expect(dialEnd).toMatchObject({ status: 'completed', ringSeconds: 2, talkSeconds: 3, target: AGENT, dialCallSid: action.params.DialCallSid });
    expect(transcript).toEqual([{ verb: 'Dial', target: AGENT, targetKind: 'Number' }]);
  });

  it.each(['busy', 'failed'] as const)('%s: at once, with no DialCallDuration, and the caller hears what the action answers', async (status) => {
    emulator.faults.dialOutcome = { status, secondMs: SECOND_MS };
    const { action, dialEnd, transcript } = await dialCall();
    expect(dialParams(action)).toEqual({ DialCallStatus: status, DialCallSid: expect.stringMatching(/^CA[0-9a-f]{32}$/), DialBridged: 'false' });
    expect(dialEnd).toMatchObject({ status, ringSeconds: 0, talkSeconds: 0 });
    expect(transcript).toEqual([{ verb: 'Dial', target: AGENT, targetKind: 'Number' }, { verb: 'Say', text: 'Nobody answered.' }, { verb: 'Hangup' }]);
  });

  it('no-answer: rings for the whole <Dial timeout> (30 s by default) before the action', async () => {
    emulator.faults.dialOutcome = { status: 'no-answer', secondMs: SECOND_MS };
    const before = Date.now();
    const { action, dialEnd } = await dialCall(' timeout="4"');
    expect(Date.now() - before).toBeGreaterThanOrEqual(4 * SECOND_MS);
    expect(dialParams(action)).toEqual({ DialCallStatus: 'no-answer', DialCallSid: expect.stringMatching(/^CA[0-9a-f]{32}$/), DialBridged: 'false' });
    expect(dialEnd).toMatchObject({ status: 'no-answer', ringSeconds: 4 });

    service.requests.length = 0;
    const { dialEnd: byDefault } = await dialCall();
    expect(byDefault).toMatchObject({ status: 'no-answer', ringSeconds: 30 });
  });

  it('a party that would answer only after the timeout is no-answer, at the timeout', async () => {
    emulator.faults.dialOutcome = { status: 'completed', ringSeconds: 6, talkSeconds: 10, secondMs: SECOND_MS };
    const { action, dialEnd } = await dialCall(' timeout="3"');
    expect(action.params.DialCallStatus).toBe('no-answer');
    expect(action.params.DialCallDuration).toBeUndefined();
    expect(dialEnd).toMatchObject({ status: 'no-answer', ringSeconds: 3, talkSeconds: 0 });
  });

  it('canceled: rings, then the dialled call is canceled before it was answered', async () => {
    emulator.faults.dialOutcome = { status: 'canceled', ringSeconds: 2, secondMs: SECOND_MS };
    const { action, dialEnd } = await dialCall();
    expect(dialParams(action)).toEqual({ DialCallStatus: 'canceled', DialCallSid: expect.stringMatching(/^CA[0-9a-f]{32}$/), DialBridged: 'false' });
    expect(dialEnd).toMatchObject({ status: 'canceled', ringSeconds: 2 });
  });

  it('an invalid <Dial timeout> is warned (13212) and the default taken, as Twilio does', async () => {
    emulator.faults.dialOutcome = { status: 'no-answer', secondMs: 1 };
    const { sid, dialEnd } = await dialCall(' timeout="soon"');
    expect(dialEnd).toMatchObject({ status: 'no-answer', ringSeconds: 30 });
    expect(emulator.timelineFor(sid)).toContainEqual(expect.objectContaining({ type: 'notification', level: 'warning', code: 13212 }));
  });

  it('applies only to its target when it names one', async () => {
    emulator.faults.dialOutcome = { status: 'busy', target: '+15550000000' };
    const { action } = await dialCall();
    expect(action.params.DialCallStatus).toBe('completed');
  });

  it('a caller who hangs up mid-talk: the action is still requested, with the talk so far, and its answer is not run', async () => {
    emulator.faults.dialOutcome = { status: 'completed', talkSeconds: 600, secondMs: SECOND_MS };
    service.routes.set('/voice', () => `<Response><Dial action="/after-dial"><Client>alice</Client></Dial></Response>`);
    service.routes.set('/after-dial', () => '<Response><Say>never heard</Say></Response>');
    const call = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/voice` });
    // three emulated seconds of talk, counted from the <Dial> (a loaded host may take longer than that to fetch the document)
    while (call.transcript.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 3 * SECOND_MS));
    await call.hangup();
    const action = await service.waitForRequest('/after-dial');
    expect(action.params).toMatchObject({ DialCallStatus: 'completed', DialBridged: 'true', CallStatus: 'completed' });
    expect(Number(action.params.DialCallDuration)).toBeGreaterThanOrEqual(2);
    expect(call.transcript).toEqual([{ verb: 'Dial', target: 'alice', targetKind: 'Client' }]);
  });

  it('without an action, a dial that did not connect goes on with the document', async () => {
    emulator.faults.dialOutcome = { status: 'busy' };
    service.routes.set('/voice', () => `<Response><Dial>${AGENT}</Dial><Say>Goodbye.</Say></Response>`);
    const call = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/voice` });
    await call.ended;
    expect(call.transcript).toEqual([
      { verb: 'Dial', target: AGENT, targetKind: 'text' },
      { verb: 'Say', text: 'Goodbye.' },
    ]);
  });
});

/**
 * A dialled party's call progress callbacks (Twilio's docs, <Number>, <Client>, <Sip>:
 * statusCallbackEvent, statusCallback, statusCallbackMethod): only the events the noun asks for
 * (a <Number>'s default `completed`, a <Client>'s none), signed, for the dialled call (its own
 * CallSid, the caller's as ParentCallSid), `answered` reported as CallStatus in-progress.
 */
describe("call driver: a <Dial> party's status callbacks", () => {
  let emulator: TwilioEmulator;
  let service: FakeService;

  beforeEach(async () => {
    emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    service = await startFakeService(AUTH_TOKEN);
    service.routes.set('/after-dial', () => '<Response/>');
    service.routes.set('/party', () => '');
  });

  afterEach(async () => {
    await emulator.close();
    await service.close();
  });

  /** the call's party callbacks once its dial action came (each sent on its own: by SequenceNumber), and the action */
  async function partyCalls(noun: string, expected: number): Promise<{ sid: string; action: ReceivedRequest; party: ReceivedRequest[] }> {
    service.routes.set('/voice', () => `<Response><Dial action="/after-dial">${noun}</Dial></Response>`);
    const call = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/voice` });
    await call.ended;
    const action = await service.waitForRequest('/after-dial');
    const party = () => service.requests.filter((r) => r.path === '/party');
    for (let i = 0; i < 100 && party().length < expected; i++) await new Promise((r) => setTimeout(r, 10));
    // a moment for one more than expected to show
    await new Promise((r) => setTimeout(r, 5 * SECOND_MS));
    return { sid: call.sid, action, party: party().sort((a, b) => Number(a.params.SequenceNumber) - Number(b.params.SequenceNumber)) };
  }

  it('every event asked for, answered as in-progress, signed, for the dialled call', async () => {
    emulator.faults.dialOutcome = { status: 'completed', ringSeconds: 1, talkSeconds: 2, secondMs: SECOND_MS };
    const events = 'initiated ringing answered completed';
    const { sid, action, party } = await partyCalls(`<Client statusCallbackEvent="${events}" statusCallback="/party">alice</Client>`, 4);
    expect(party.map((r) => r.params.CallStatus)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
    for (const r of party) {
      expect(r.valid).toBe(true);
      expect(r.params).toMatchObject({
        CallSid: action.params.DialCallSid,
        ParentCallSid: sid,
        Direction: 'outbound-dial',
        To: 'client:alice',
        From: CALLER,
        AccountSid: ACCOUNT_SID,
        CallbackSource: 'call-progress-events',
      });
    }
    expect(party[3].params.CallDuration).toBe('2');
  });

  it("only `answered` asked for: one callback; a <Client>'s default is none, a <Number>'s `completed`", async () => {
    emulator.faults.dialOutcome = { status: 'completed', ringSeconds: 1, talkSeconds: 1, secondMs: SECOND_MS };
    expect(
      (await partyCalls('<Client statusCallbackEvent="answered" statusCallback="/party">alice</Client>', 1)).party.map((r) => r.params.CallStatus),
    ).toEqual(['in-progress']);
    service.requests.length = 0;
    expect((await partyCalls('<Client statusCallback="/party">alice</Client>', 0)).party).toEqual([]);
    service.requests.length = 0;
    expect((await partyCalls(`<Number statusCallback="/party">${AGENT}</Number>`, 1)).party.map((r) => r.params.CallStatus)).toEqual(['completed']);
  });

  it('a party that never answers is never reported answered: a busy one neither rang', async () => {
    emulator.faults.dialOutcome = { status: 'busy' };
    const events = 'initiated ringing answered completed';
    const { party } = await partyCalls(`<Number statusCallbackEvent="${events}" statusCallback="/party">${AGENT}</Number>`, 2);
    expect(party.map((r) => r.params.CallStatus)).toEqual(['initiated', 'busy']);
  });
});
