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
