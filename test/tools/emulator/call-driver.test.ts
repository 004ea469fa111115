import twilio from 'twilio';
import { startTwilioEmulator, TWIML_RESPONSE_MAX_BYTES, type TwilioEmulator } from '../../../tools/emulator';
import { ACCOUNT_SID, AUTH_TOKEN, startFakeService, type FakeService } from './fake-service';

const CALLER = '+15551234567';
const NUMBER = '+15005550006';

describe('call driver: inbound calls follow TwiML like Twilio', () => {
  let emulator: TwilioEmulator;
  let service: FakeService;

  beforeEach(async () => {
    emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    service = await startFakeService(AUTH_TOKEN);
  });

  afterEach(async () => {
    await emulator.close();
    await service.close();
  });

  it('follows Say, Gather, Redirect and Hangup, with every request validly signed', async () => {
    service.routes.set(
      '/twilio/voice',
      () => `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Say voice="alice">Welcome &amp; thanks.</Say>
  <Gather input="dtmf" action="/twilio/gather?step=account" finishOnKey="#" timeout="7">
    <Say>Key in your account number, then press hash.</Say>
  </Gather>
  <Say>We did not get that.</Say>
</Response>`,
    );
    service.routes.set('/twilio/gather', (p) => `<Response><Say>Got ${p.Digits.length}</Say><Redirect>/twilio/next</Redirect></Response>`);
    service.routes.set('/twilio/next', () => '<Response><Pause length="1"/><Hangup/><Say>never</Say></Response>');

    const gathers: unknown[] = [];
    const call = await emulator.placeCall({
      from: CALLER,
      to: NUMBER,
      voiceUrl: `${service.origin}/twilio/voice`,
      statusCallback: `${service.origin}/twilio/status`,
      onGather: (g) => {
        gathers.push(g);
        return '123456#';
      },
    });
    await call.ended;

    expect(service.requests.map((r) => r.path)).toEqual(['/twilio/voice', '/twilio/gather', '/twilio/next', '/twilio/status']);
    expect(service.requests.every((r) => r.valid)).toBe(true);

    const [voice, gatherAction, , status] = service.requests;
    expect(voice.params).toMatchObject({
      AccountSid: ACCOUNT_SID,
      ApiVersion: '2010-04-01',
      CallSid: call.sid,
      CallStatus: 'ringing',
      Direction: 'inbound',
      From: CALLER,
      To: NUMBER,
      Caller: CALLER,
      Called: NUMBER,
    });
    expect(call.sid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(gatherAction.url).toBe(`${service.origin}/twilio/gather?step=account`);
    expect(gatherAction.params).toMatchObject({ Digits: '123456', FinishedOnKey: '#', CallStatus: 'in-progress' });
    expect(status.params).toMatchObject({ CallStatus: 'completed', CallSid: call.sid });
    expect(status.params.CallDuration).toMatch(/^\d+$/);

    expect(gathers).toEqual([
      {
        action: `${service.origin}/twilio/gather?step=account`,
        finishOnKey: '#',
        timeout: 7,
        numDigits: undefined,
        prompt: ['Key in your account number, then press hash.'],
        heard: [{ verb: 'Say', text: 'Key in your account number, then press hash.', voice: undefined, language: undefined }],
        index: 0,
      },
    ]);
    expect(call.transcript.map((e) => e.verb)).toEqual(['Say', 'Say', 'Gather', 'Say', 'Redirect', 'Pause', 'Hangup']);
    expect(call.transcript[0]).toMatchObject({ verb: 'Say', text: 'Welcome & thanks.', voice: 'alice' });
    expect(call.transcript[5]).toEqual({ verb: 'Pause', length: 1 });
    // a <Pause> lasts as long as it says, as on Twilio
    const verbAt = (verb: string) => emulator.timelineFor(call.sid).find((e) => e.type === 'twiml-verb' && e.entry.verb === verb)?.t ?? NaN;
    expect(verbAt('Hangup') - verbAt('Pause')).toBeGreaterThanOrEqual(990);
    expect(call.status).toBe('completed');
    expect(call.gathers).toEqual([{ digits: '123456', recordingStatus: 'none' }]);

    // The timeline shows that a Gather was answered, never what was keyed.
    const gatherEntry = emulator.timelineFor(call.sid).find((e) => e.type === 'gather');
    expect(gatherEntry).toMatchObject({ digits: '6 digits', recordingStatus: 'none' });
    expect(JSON.stringify(emulator.timeline)).not.toContain('123456');
    const webhooks = emulator.timelineFor(call.sid).filter((e) => e.type === 'webhook');
    expect(webhooks.map((w) => (w.type === 'webhook' ? [w.purpose, w.status] : []))).toEqual([
      ['voice', 200],
      ['gather-action', 200],
      ['redirect', 200],
      ['status-callback', 200],
    ]);
  });

  it('applies numDigits, continues after a Gather with no input, and honours actionOnEmptyResult', async () => {
    service.routes.set(
      '/voice',
      () => `<Response>
  <Gather numDigits="4" action="/four"><Say>Four digits</Say></Gather>
  <Gather action="/none"><Say>Nothing</Say></Gather>
  <Gather action="/empty" actionOnEmptyResult="true"><Say>Empty</Say></Gather>
</Response>`,
    );
    service.routes.set('/four', () => '<Response><Redirect method="POST">/voice-2</Redirect></Response>');
    service.routes.set(
      '/voice-2',
      () =>
        '<Response><Gather action="/none"><Say>Again</Say></Gather><Gather action="/empty" actionOnEmptyResult="true"><Say>Once more</Say></Gather></Response>',
    );
    service.routes.set('/empty', () => '<Response><Hangup/></Response>');

    const answers = ['123456789', null];
    const call = await emulator.placeCall({
      from: CALLER,
      to: NUMBER,
      voiceUrl: `${service.origin}/voice`,
      onGather: () => answers.shift() ?? null,
    });
    await call.ended;

    expect(service.requests.map((r) => r.path)).toEqual(['/voice', '/four', '/voice-2', '/empty']);
    expect(service.requests[1].params).toMatchObject({ Digits: '1234', FinishedOnKey: '' });
    expect(service.requests[3].params).toMatchObject({ Digits: '' });
    expect(call.gathers.map((g) => g.digits)).toEqual(['1234', '', '']);
  });

  it("ends a Gather on the caller's pause; a Gather that says nothing asks nothing and takes the keys still being pressed", async () => {
    service.routes.set('/voice', () => '<Response><Gather action="/card"><Say>Card</Say></Gather></Response>');
    // what a guard is: no prompt, no finishOnKey, ends on silence
    service.routes.set('/card', () => '<Response><Gather finishOnKey="" timeout="3" actionOnEmptyResult="true" action="/guard"/></Response>');
    service.routes.set('/guard', () => '<Response><Gather action="/last"><Say>Last</Say></Gather></Response>');
    service.routes.set('/last', () => '<Response><Hangup/></Response>');

    const asked: string[] = [];
    const answers = ['4111,1111#', '9#'];
    const call = await emulator.placeCall({
      from: CALLER,
      to: NUMBER,
      voiceUrl: `${service.origin}/voice`,
      onGather: (g) => (asked.push(g.prompt.join(' ')), answers.shift() ?? null),
    });
    await call.ended;

    expect(service.requests.map((r) => r.path)).toEqual(['/voice', '/card', '/guard', '/last']);
    // the pause ended the card's Gather on its timeout: no key did
    expect(service.requests[1].params).toMatchObject({ Digits: '4111', FinishedOnKey: '' });
    // the keys after the pause, pressed while the silent Gather ran ('#' is no finishing key there)
    expect(service.requests[2].params).toMatchObject({ Digits: '1111#', FinishedOnKey: '' });
    expect(asked).toEqual(['Card', 'Last']);
    expect(service.requests[3].params).toMatchObject({ Digits: '9', FinishedOnKey: '#' });
  });

  it('ends the call with an application error when the webhook fails', async () => {
    service.routes.set('/voice', () => ({ status: 500, body: 'boom' }));
    const call = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/voice` });
    await call.ended;
    expect(call.transcript).toEqual([{ verb: 'ApplicationError', reason: 'HTTP 500 (11200)', url: `${service.origin}/voice`, status: 500 }]);
    expect(call.status).toBe('completed');
  });

  it('takes a TwiML document of 64 kB, and ends the call with an application error (11750) on one a byte larger', async () => {
    // a document of exactly `bytes` bytes (UTF-8: the prompt's 'é' is two), Say and all
    const doc = (bytes: number): string => {
      const frame = '<Response><Say>é</Say></Response>';
      return frame.replace('é', 'é' + 'a'.repeat(bytes - Buffer.byteLength(frame)));
    };
    expect(Buffer.byteLength(doc(TWIML_RESPONSE_MAX_BYTES))).toBe(64 * 1024);
    service.routes.set('/voice', () => '<Response><Gather input="dtmf" action="/next"><Say>Press a key.</Say></Gather></Response>');
    service.routes.set('/next', (p) => doc(p.Digits === '1' ? TWIML_RESPONSE_MAX_BYTES : TWIML_RESPONSE_MAX_BYTES + 1));

    const fits = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/voice`, onGather: () => '1' });
    await fits.ended;
    expect(fits.transcript.map((e) => e.verb)).toEqual(['Say', 'Gather', 'Say']);

    const over = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/voice`, onGather: () => '2' });
    await over.ended;
    const error = { verb: 'ApplicationError', reason: 'TwiML response body too large (11750)', url: `${service.origin}/next`, status: 200 };
    expect(over.transcript.map((e) => e.verb)).toEqual(['Say', 'Gather', 'ApplicationError']);
    expect(over.transcript[2]).toEqual(error);
    expect(over.status).toBe('completed');
    // on the timeline, as every application error is
    expect(emulator.timelineFor(over.sid)).toContainEqual(expect.objectContaining({ type: 'twiml-verb', entry: error }));
  });

  it('ends the call with an application error on invalid TwiML', async () => {
    service.routes.set('/voice', () => '<Response><Say>unclosed</Response>');
    const call = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/voice` });
    await call.ended;
    expect(call.transcript[0]).toMatchObject({ verb: 'ApplicationError' });
  });

  it('a <Recording> event Twilio does not know is its warning 13621 on the timeline: the recording starts and the call goes on', async () => {
    service.routes.set(
      '/voice',
      () =>
        `<Response><Start><Recording recordingStatusCallback="/rs" recordingStatusCallbackEvent="in-progress paused"/></Start><Say>recorded</Say></Response>`,
    );
    const call = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/voice` });
    await call.ended;
    expect(call.transcript).toEqual([
      { verb: 'Start/Recording', channels: 'dual', track: 'both' },
      { verb: 'Say', text: 'recorded' },
    ]);
    expect(call.recordings).toHaveLength(1);
    expect(call.recordings[0].opts).toMatchObject({ channels: 'dual', trim: 'trim-silence', statusCallbackEvents: ['in-progress'] });
    expect(emulator.timelineFor(call.sid)).toContainEqual(expect.objectContaining({ type: 'notification', level: 'warning', code: 13621 }));
    await waitFor(() => service.requests.some((r) => r.path === '/rs'));
    expect(service.requests.filter((r) => r.path === '/rs').map((r) => r.params.RecordingStatus)).toEqual(['in-progress']);
  });

  it('records Dial, Enqueue and Reject', async () => {
    service.routes.set('/voice', () => '<Response><Dial action="/after-dial"><Client>alice</Client></Dial></Response>');
    service.routes.set('/after-dial', (p) => (p.DialCallStatus === 'completed' ? '<Response><Enqueue>support</Enqueue></Response>' : '<Response/>'));
    const call = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/voice` });
    await waitFor(() => call.transcript.some((e) => e.verb === 'Enqueue'));
    expect(call.status).toBe('in-progress');
    await call.hangup();
    expect(call.transcript).toEqual([
      { verb: 'Dial', target: 'alice', targetKind: 'Client' },
      { verb: 'Enqueue', name: 'support' },
    ]);

    service.routes.set('/reject', () => '<Response><Reject reason="busy"/></Response>');
    const rejected = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${service.origin}/reject` });
    await rejected.ended;
    expect(rejected.status).toBe('busy');
  });

  it('uses the number configured over REST when no voiceUrl is given', async () => {
    service.routes.set('/configured', () => '<Response><Say>configured</Say></Response>');
    const sid = emulator.addIncomingNumber(NUMBER);
    const number = emulator.incomingNumbers.get(sid);
    expect(number).toBeDefined();
    number!.voiceUrl = `${service.origin}/configured`;
    number!.statusCallback = `${service.origin}/status`;
    const call = await emulator.placeCall({ from: CALLER, to: NUMBER });
    await call.ended;
    expect(service.requests.map((r) => r.path)).toEqual(['/configured', '/status']);
  });

  it('signedPost signs like Twilio, and can omit or forge the signature', async () => {
    const url = `${service.origin}/anything?x=1`;
    const ok = await emulator.signedPost(url, { CallSid: 'CA1', Digits: '1' });
    expect(ok.status).toBe(200);
    const missing = await emulator.signedPost(url, { CallSid: 'CA1' }, { signature: null });
    expect(missing.status).toBe(400);
    const forged = await emulator.signedPost(url, { CallSid: 'CA1' }, { signature: 'AAAA' });
    expect(forged.status).toBe(403);
    expect(emulator.signature(url, { a: 'b' })).toBe(twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, { a: 'b' }));
    expect(service.requests.map((r) => r.valid)).toEqual([true, false, false]);
  });
});

async function waitFor(predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
