import { INLINE_TWIML_MAX_CHARS, startTwilioEmulator, type EmulatedCall, type TwilioEmulator } from '../../../tools/emulator';
import { wideDecode } from '../../support/decoders';
import { ACCOUNT_SID, AUTH_TOKEN, eventually, startFakeService, twilioRest, type FakeService, type RestCall } from './fake-service';

describe('REST fake: Twilio-shaped 2010-04-01 API', () => {
  let emulator: TwilioEmulator;
  let service: FakeService;
  let rest: RestCall;

  beforeEach(async () => {
    emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    service = await startFakeService(AUTH_TOKEN);
    rest = twilioRest(emulator.baseUrl);
  });

  afterEach(async () => {
    await emulator.close();
    await service.close();
  });

  /** an inbound call parked in a queue, so it stays live */
  async function liveCall(): Promise<EmulatedCall> {
    service.routes.set('/voice', () => '<Response><Enqueue>hold</Enqueue></Response>');
    const call = await emulator.placeCall({ from: '+15551230000', to: '+15005550006', voiceUrl: `${service.origin}/voice` });
    await eventually(() => call.status === 'in-progress');
    return call;
  }

  it('answers 401 with Twilio error JSON to bad credentials', async () => {
    const wrong = 'Basic ' + Buffer.from(`${ACCOUNT_SID}:nope`).toString('base64');
    for (const auth of [wrong, '']) {
      const res = await rest('GET', '/Calls.json', {}, auth);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({
        code: 20003,
        message: 'Authenticate',
        more_info: 'https://www.twilio.com/docs/errors/20003',
        status: 401,
      });
    }
    const rec = emulator.timeline.find((e) => e.type === 'rest');
    expect(rec).toMatchObject({ type: 'rest', method: 'GET', status: 401 });
  });

  it('answers 404 (code 20404) for an unknown call', async () => {
    const sid = 'CA' + '0'.repeat(32);
    for (const [method, path] of [
      ['GET', `/Calls/${sid}.json`],
      ['POST', `/Calls/${sid}.json`],
      ['POST', `/Calls/${sid}/Recordings.json`],
    ] as const) {
      const res = await rest(method, path, { Status: 'completed' });
      expect(res.status).toBe(404);
      expect(res.json).toMatchObject({ code: 20404, status: 404 });
    }
  });

  it('validates Calls.json and honours the callsCreate fault', async () => {
    expect((await rest('POST', '/Calls.json', { From: '+1', Twiml: '<Response/>' })).json).toMatchObject({ code: 21201 });
    expect((await rest('POST', '/Calls.json', { To: '+1', From: '+2' })).json).toMatchObject({ code: 21205 });
    // a call goes to a number, client: or sip: only: a queue is no party to call
    expect((await rest('POST', '/Calls.json', { To: 'queue:support', From: '+2', Twiml: '<Response/>' })).json).toMatchObject({ code: 21211, status: 400 });
    emulator.faults.callsCreate = { status: 503, times: 1 };
    const failed = await rest('POST', '/Calls.json', { To: '+1', From: '+2', Twiml: '<Response/>' });
    expect(failed.status).toBe(503);
    expect(emulator.faults.callsCreate).toBeUndefined();
    const ok = await rest('POST', '/Calls.json', { To: 'client:alice', From: '+15005550006', Twiml: '<Response><Hangup/></Response>' });
    expect(ok.status).toBe(201);
    expect(ok.json).toMatchObject({ to: 'client:alice', direction: 'outbound-api', status: 'queued', account_sid: ACCOUNT_SID });
    expect(ok.json.sid).toMatch(/^CA[0-9a-f]{32}$/);
  });

  it('refuses inline Twiml over 4000 characters on a call create or update (32018), and takes 4000', async () => {
    const twiml = (chars: number): string => {
      const frame = '<Response><Say></Say><Hangup/></Response>';
      return frame.replace('<Say>', '<Say>' + 'a'.repeat(chars - frame.length));
    };
    expect(twiml(INLINE_TWIML_MAX_CHARS)).toHaveLength(4000);
    const refused = { code: 32018, message: 'Twiml size exceeded maximum allowed value of 4000 characters', status: 400 };
    const create = (chars: number) => rest('POST', '/Calls.json', { To: 'client:alice', From: '+15005550006', Twiml: twiml(chars) });
    const before = emulator.calls.size;
    expect(await create(INLINE_TWIML_MAX_CHARS + 1)).toMatchObject({ status: 400, json: refused });
    expect(emulator.calls.size).toBe(before);
    expect((await create(INLINE_TWIML_MAX_CHARS)).status).toBe(201);

    const call = await liveCall();
    expect(await rest('POST', `/Calls/${call.sid}.json`, { Twiml: twiml(INLINE_TWIML_MAX_CHARS + 1) })).toMatchObject({ status: 400, json: refused });
    // not redirected: still waiting in its queue
    expect(call.status).toBe('in-progress');
    expect(call.transcript.map((e) => e.verb)).toEqual(['Enqueue']);
    expect((await rest('POST', `/Calls/${call.sid}.json`, { Twiml: twiml(INLINE_TWIML_MAX_CHARS) })).status).toBe(200);
    await call.ended;
    expect(call.transcript.map((e) => e.verb)).toEqual(['Enqueue', 'Say', 'Hangup']);
  });

  it('starts, pauses, resumes and stops a recording, and answers 404 with none active', async () => {
    const call = await liveCall();
    const none = await rest('POST', `/Calls/${call.sid}/Recordings/Twilio.CURRENT.json`, { Status: 'paused' });
    expect(none.status).toBe(404);
    expect(none.json).toMatchObject({ code: 20404 });

    const started = await rest('POST', `/Calls/${call.sid}/Recordings.json`, {
      RecordingChannels: 'dual',
      RecordingStatusCallback: `${service.origin}/recording-status`,
      RecordingStatusCallbackEvent: ['in-progress', 'completed'],
    });
    expect(started.status).toBe(201);
    expect(started.json).toMatchObject({ status: 'in-progress', call_sid: call.sid, channels: 2, source: 'StartCallRecordingAPI' });
    const reSid = started.json.sid as string;
    expect(reSid).toMatch(/^RE[0-9a-f]{32}$/);
    expect(call.recordingStatus).toBe('in-progress');

    const paused = await rest('POST', `/Calls/${call.sid}/Recordings/Twilio.CURRENT.json`, { Status: 'paused', PauseBehavior: 'skip' });
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ sid: reSid, status: 'paused' });
    expect(call.recordingStatus).toBe('paused');

    const fetched = await rest('GET', `/Calls/${call.sid}/Recordings/${reSid}.json`);
    expect(fetched.json).toMatchObject({ status: 'paused' });

    const resumed = await rest('POST', `/Calls/${call.sid}/Recordings/${reSid}.json`, { Status: 'in-progress' });
    expect(resumed.json).toMatchObject({ status: 'in-progress' });

    const stopped = await rest('POST', `/Calls/${call.sid}/Recordings/${reSid}.json`, { Status: 'stopped' });
    expect(stopped.json).toMatchObject({ status: 'stopped' });
    expect((await rest('POST', `/Calls/${call.sid}/Recordings/${reSid}.json`, { Status: 'paused' })).status).toBe(404);
    expect((await rest('GET', `/Calls/${call.sid}/Recordings/Twilio.CURRENT.json`)).status).toBe(404);

    const states = emulator.timelineFor(call.sid).flatMap((e) => (e.type === 'recording' ? [e.status] : []));
    expect(states).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
    const pausedAt = emulator.timelineFor(call.sid).find((e) => e.type === 'recording' && e.status === 'paused')!.t;
    expect(emulator.recordingStatusAt(call.sid, pausedAt)).toBe('paused');
    expect(emulator.recordingStatusAt(call.sid, pausedAt - 0.0001)).toBe('in-progress');
    expect(emulator.recordingStatusAt(call.sid, 0)).toBe('none');

    // RecordingStatusCallbackEvent in-progress and completed arrive signed.
    await eventually(() => service.requests.filter((r) => r.path === '/recording-status').length === 2);
    const callbacks = service.requests.filter((r) => r.path === '/recording-status');
    expect(callbacks.map((r) => [r.valid, r.params.RecordingStatus])).toEqual([
      [true, 'in-progress'],
      [true, 'completed'],
    ]);
    expect(callbacks[1].params).toMatchObject({ RecordingSid: reSid, CallSid: call.sid, AccountSid: ACCOUNT_SID });

    const restEntry = emulator.timelineFor(call.sid).find((e) => e.type === 'rest' && e.params.PauseBehavior === 'skip');
    expect(restEntry).toMatchObject({ method: 'POST', status: 200, params: { Status: 'paused', PauseBehavior: 'skip' } });
  });

  it('refuses a recording status callback event Twilio does not know, and posts none for a pause or a resume', async () => {
    const call = await liveCall();
    const refused = await rest('POST', `/Calls/${call.sid}/Recordings.json`, {
      RecordingStatusCallback: `${service.origin}/rs`,
      RecordingStatusCallbackEvent: ['completed', 'paused'],
    });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ code: 20001 });
    expect(call.recordings).toEqual([]);

    const started = await rest('POST', `/Calls/${call.sid}/Recordings.json`, {
      RecordingStatusCallback: `${service.origin}/rs`,
      RecordingStatusCallbackEvent: ['in-progress', 'completed', 'absent'],
    });
    expect(started.status).toBe(201);
    const sid = started.json.sid as string;
    await rest('POST', `/Calls/${call.sid}/Recordings/${sid}.json`, { Status: 'paused' });
    await rest('POST', `/Calls/${call.sid}/Recordings/${sid}.json`, { Status: 'in-progress' });
    await rest('POST', `/Calls/${call.sid}/Recordings/${sid}.json`, { Status: 'stopped' });
    await eventually(() => service.requests.filter((r) => r.path === '/rs').length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(service.requests.filter((r) => r.path === '/rs').map((r) => r.params.RecordingStatus)).toEqual(['in-progress', 'completed']);
  });

  it('a Call is queued, never initiated, until it rings; only the initiated status callback says initiated', async () => {
    const seen: string[] = [];
    service.routes.set('/status', async (p) => {
      const fetched = await rest('GET', `/Calls/${p.CallSid}.json`);
      const listed = await rest('GET', '/Calls.json');
      const inList = (listed.json.calls as { sid: string; status: string }[]).find((c) => c.sid === p.CallSid);
      seen.push(`${p.CallStatus}:${fetched.json.status as string}:${inList?.status ?? ''}`);
      return '';
    });
    service.routes.set('/answer', () => '<Response><Hangup/></Response>');
    const created = await rest('POST', '/Calls.json', {
      To: 'client:bob',
      From: '+15005550006',
      Url: `${service.origin}/answer`,
      StatusCallback: `${service.origin}/status`,
      StatusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
    });
    expect(created.json.status).toBe('queued');
    await emulator.calls.get(created.json.sid as string)!.ended;
    await eventually(() => seen.length === 4);
    // (the call hangs up as it is answered: its resource may be completed by the time the answered callback reads it)
    expect(seen.slice(0, 2)).toEqual(['initiated:queued:queued', 'ringing:ringing:ringing']);
    expect(seen.slice(2).map((s) => s.split(':')[0])).toEqual(['in-progress', 'completed']);
    expect(seen.flatMap((s) => s.split(':').slice(1))).not.toContain('initiated');
    const statuses = emulator.timelineFor(created.json.sid as string).flatMap((e) => (e.type === 'call-status' ? [e.status] : []));
    expect(statuses).not.toContain('initiated');
  });

  it('injects recording pause/resume faults: error status, and delay', async () => {
    const call = await liveCall();
    await rest('POST', `/Calls/${call.sid}/Recordings.json`);

    emulator.faults.recordingPause = { status: 500 };
    const failed = await rest('POST', `/Calls/${call.sid}/Recordings/Twilio.CURRENT.json`, { Status: 'paused' });
    expect(failed.status).toBe(500);
    expect(failed.json).toMatchObject({ code: 20500, status: 500 });
    expect(call.recordingStatus).toBe('in-progress');
    delete emulator.faults.recordingPause;

    emulator.faults.recordingPause = { delayMs: 200 };
    const t0 = Date.now();
    const slow = await rest('POST', `/Calls/${call.sid}/Recordings/Twilio.CURRENT.json`, { Status: 'paused' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(slow.json).toMatchObject({ status: 'paused' });

    emulator.faults.recordingResume = { status: 503, times: 1 };
    expect((await rest('POST', `/Calls/${call.sid}/Recordings/Twilio.CURRENT.json`, { Status: 'in-progress' })).status).toBe(503);
    expect(call.recordingStatus).toBe('paused');
    expect((await rest('POST', `/Calls/${call.sid}/Recordings/Twilio.CURRENT.json`, { Status: 'in-progress' })).status).toBe(200);
    expect(call.recordingStatus).toBe('in-progress');
  });

  it('holds several REST-started recordings on one call: each its own SID and status, listed, each hearing Gather keys unless paused', async () => {
    service.routes.set('/voice', () => '<Response><Enqueue>hold</Enqueue></Response>');
    service.routes.set('/keys', () => '<Response><Gather input="dtmf" finishOnKey="#" action="/done"><Say>Keys please.</Say></Gather></Response>');
    service.routes.set('/done', () => '<Response><Hangup/></Response>');
    const call = await emulator.placeCall({ from: '+15551230000', to: '+15005550006', voiceUrl: `${service.origin}/voice`, onGather: () => '159#' });
    await eventually(() => call.status === 'in-progress');
    // a dual-channel recording and a compliance one, as an app may run both
    const a = (await rest('POST', `/Calls/${call.sid}/Recordings.json`, { RecordingChannels: 'dual' })).json.sid as string;
    const b = (await rest('POST', `/Calls/${call.sid}/Recordings.json`)).json.sid as string;
    expect(a).not.toBe(b);
    // Twilio.CURRENT names no one of them: Twilio refuses it (16108) and changes neither
    const ambiguous = await rest('POST', `/Calls/${call.sid}/Recordings/Twilio.CURRENT.json`, { Status: 'paused' });
    expect(ambiguous).toMatchObject({ status: 400, json: { code: 16108 } });
    expect(call.recordings.map((r) => r.status)).toEqual(['in-progress', 'in-progress']);

    // the second of two pauses fails (`after: 1`), whichever recording it names
    emulator.faults.recordingPause = { status: 500, after: 1, times: 1 };
    expect((await rest('POST', `/Calls/${call.sid}/Recordings/${a}.json`, { Status: 'paused', PauseBehavior: 'skip' })).status).toBe(200);
    expect((await rest('POST', `/Calls/${call.sid}/Recordings/${b}.json`, { Status: 'paused', PauseBehavior: 'skip' })).status).toBe(500);
    expect(emulator.faults.recordingPause).toBeUndefined();

    const listed = await rest('GET', `/Calls/${call.sid}/Recordings.json`);
    expect((listed.json.recordings as { sid: string; status: string }[]).map((r) => [r.sid, r.status])).toEqual([
      [a, 'paused'],
      [b, 'in-progress'],
    ]);
    emulator.faults.recordingsList = { status: 503, times: 1 };
    expect((await rest('GET', `/Calls/${call.sid}/Recordings.json`)).status).toBe(503);

    // keys at a Gather: the recording running holds them, the paused one (skip) holds nothing
    await rest('POST', `/Calls/${call.sid}.json`, { Url: `${service.origin}/keys` });
    await call.ended;
    const byId = new Map(call.recordings.map((r) => [r.sid, r]));
    expect(wideDecode(byId.get(b)!.mixed)).toBe('159#');
    expect(wideDecode(byId.get(a)!.mixed)).toBe('');
    const gatheredAt = emulator.timelineFor(call.sid).find((e) => e.type === 'gather')!.t;
    expect(emulator.recordingStatusAt(call.sid, gatheredAt, a)).toBe('paused');
    expect(emulator.recordingStatusAt(call.sid, gatheredAt, b)).toBe('in-progress');
  });

  it('ends a recording that recorded nothing absent (16101), in its callback and its resource; one that heard the call, completed', async () => {
    // the call waits at a Gather whose prompt was said before any recording began
    let answer: (keys: string) => void = () => undefined;
    service.routes.set('/voice', () => '<Response><Gather input="dtmf" finishOnKey="#" action="/done"><Say>Keys please.</Say></Gather></Response>');
    service.routes.set('/done', () => '<Response><Enqueue>hold</Enqueue></Response>');
    const call = await emulator.placeCall({
      from: '+15551230000',
      to: '+15005550006',
      voiceUrl: `${service.origin}/voice`,
      onGather: () => new Promise<string>((resolve) => (answer = resolve)),
    });
    await eventually(() => call.status === 'in-progress' && call.transcript.some((e) => e.verb === 'Say'));
    const events = { RecordingStatusCallback: `${service.origin}/recording-status`, RecordingStatusCallbackEvent: ['in-progress', 'completed', 'absent'] };

    // started and stopped with nothing on the call between: too short, no file
    const empty = (await rest('POST', `/Calls/${call.sid}/Recordings.json`, events)).json.sid as string;
    expect((await rest('POST', `/Calls/${call.sid}/Recordings/${empty}.json`, { Status: 'stopped' })).status).toBe(200);
    // paused (skip) before the caller keys, then stopped: it held nothing either
    const skipped = (await rest('POST', `/Calls/${call.sid}/Recordings.json`, events)).json.sid as string;
    await rest('POST', `/Calls/${call.sid}/Recordings/${skipped}.json`, { Status: 'paused', PauseBehavior: 'skip' });
    // running as the caller keys: it holds the keys
    const heard = (await rest('POST', `/Calls/${call.sid}/Recordings.json`, events)).json.sid as string;
    answer('1#');
    await eventually(() => call.transcript.some((e) => e.verb === 'Enqueue'));
    for (const sid of [skipped, heard]) await rest('POST', `/Calls/${call.sid}/Recordings/${sid}.json`, { Status: 'stopped' });

    const finals = (): Record<string, string> =>
      Object.fromEntries(
        service.requests
          .filter((r) => r.path === '/recording-status' && r.params.RecordingStatus !== 'in-progress')
          .map((r) => [r.params.RecordingSid, r.params.RecordingStatus]),
      );
    await eventually(() => Object.keys(finals()).length === 3);
    expect(finals()).toEqual({ [empty]: 'absent', [skipped]: 'absent', [heard]: 'completed' });
    const absent = service.requests.find((r) => r.params.RecordingSid === empty && r.params.RecordingStatus === 'absent')!;
    expect(absent.valid).toBe(true);
    expect(absent.params).toMatchObject({ CallSid: call.sid, ErrorCode: '16101', RecordingDuration: '0' });
    expect(service.requests.find((r) => r.params.RecordingSid === heard && r.params.RecordingStatus === 'completed')!.params.ErrorCode).toBe('0');

    // the resource, processed: absent with Twilio's error, or completed
    for (const [sid, status, code] of [
      [empty, 'absent', 16101],
      [skipped, 'absent', 16101],
      [heard, 'completed', null],
    ] as const) {
      expect((await rest('GET', `/Calls/${call.sid}/Recordings/${sid}.json`)).json).toMatchObject({ status, error_code: code });
    }
  });

  it('refuses a recording with a RecordingTrack or Trim Twilio does not know, and a pause with an unknown PauseBehavior', async () => {
    const call = await liveCall();
    for (const bad of [{ RecordingTrack: 'caller' }, { Trim: 'yes' }] as Record<string, string>[]) {
      const res = await rest('POST', `/Calls/${call.sid}/Recordings.json`, bad);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: 20001 });
    }
    expect(call.recordings).toEqual([]);
    const sid = (await rest('POST', `/Calls/${call.sid}/Recordings.json`, { RecordingTrack: 'inbound', Trim: 'trim-silence' })).json.sid as string;
    const refused = await rest('POST', `/Calls/${call.sid}/Recordings/${sid}.json`, { Status: 'paused', PauseBehavior: 'mute' });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ code: 20001 });
    expect(call.recordingStatus).toBe('in-progress');
    expect((await rest('POST', `/Calls/${call.sid}/Recordings/${sid}.json`, { Status: 'paused', PauseBehavior: 'skip' })).json).toMatchObject({
      status: 'paused',
    });
  });

  it('processes a stopped recording: the stop answers stopped, then it is processing, and completed only with its callback', async () => {
    // processing held long enough that the reads below come during it on a loaded host (25 ms did not, once)
    emulator.faults.recordingProcessingMs = 500;
    const call = await liveCall();
    const sid = (
      await rest('POST', `/Calls/${call.sid}/Recordings.json`, {
        RecordingStatusCallback: `${service.origin}/recording-status`,
        RecordingStatusCallbackEvent: ['completed', 'absent'],
      })
    ).json.sid as string;
    const stopped = await rest('POST', `/Calls/${call.sid}/Recordings/${sid}.json`, { Status: 'stopped' });
    expect(stopped.json).toMatchObject({ status: 'stopped', duration: null });
    // no file yet: processing, in the resource and the call's list, until the callback is sent
    expect((await rest('GET', `/Calls/${call.sid}/Recordings/${sid}.json`)).json).toMatchObject({ status: 'processing', duration: null });
    expect((await rest('GET', `/Calls/${call.sid}/Recordings.json`)).json.recordings).toEqual([expect.objectContaining({ sid, status: 'processing' })]);
    expect(service.requests.filter((r) => r.path === '/recording-status')).toEqual([]);
    await eventually(() => service.requests.some((r) => r.path === '/recording-status'));
    expect((await rest('GET', `/Calls/${call.sid}/Recordings/${sid}.json`)).json).toMatchObject({ status: 'completed', duration: '0' });
    // a recording that was stopped takes no update (it is no longer active)
    expect((await rest('POST', `/Calls/${call.sid}/Recordings/${sid}.json`, { Status: 'in-progress' })).status).toBe(404);
    emulator.faults.recordingProcessingMs = undefined;
  });

  it("posts the final callback of a recording that ends with its call after the call's completed status callback", async () => {
    service.routes.set(
      '/voice',
      () =>
        '<Response><Start><Recording recordingStatusCallback="/rs" recordingStatusCallbackEvent="in-progress completed absent"/></Start><Say>hello</Say><Enqueue>hold</Enqueue></Response>',
    );
    service.routes.set('/status', () => '');
    const call = await emulator.placeCall({
      from: '+15551230000',
      to: '+15005550006',
      voiceUrl: `${service.origin}/voice`,
      statusCallback: `${service.origin}/status`,
    });
    await eventually(() => call.transcript.some((e) => e.verb === 'Enqueue'));
    // the recording's start is reported on its own request, in no set order with the call's: heard before the hang-up
    await eventually(() => service.requests.some((r) => r.path === '/rs' && r.params.RecordingStatus === 'in-progress'));
    await call.hangup();
    await eventually(() => service.requests.some((r) => r.path === '/rs' && r.params.RecordingStatus === 'completed'));
    const order = service.requests
      .filter((r) => r.path === '/rs' || r.path === '/status')
      .map((r) => r.params.RecordingStatus ?? `call ${r.params.CallStatus}`);
    expect(order).toEqual(['in-progress', 'call completed', 'completed']);
  });

  it('ends a recording that ran while the call waited in a queue completed: the wait music is on it', async () => {
    const call = await liveCall();
    const sid = (
      await rest('POST', `/Calls/${call.sid}/Recordings.json`, {
        RecordingStatusCallback: `${service.origin}/recording-status`,
        RecordingStatusCallbackEvent: ['completed', 'absent'],
      })
    ).json.sid as string;
    await rest('POST', `/Calls/${call.sid}/Recordings/${sid}.json`, { Status: 'stopped' });
    await eventually(() => service.requests.some((r) => r.path === '/recording-status'));
    expect(service.requests.filter((r) => r.path === '/recording-status').map((r) => r.params.RecordingStatus)).toEqual(['completed']);
  });

  it('refuses to record a call that has ended', async () => {
    const call = await liveCall();
    await call.hangup();
    const res = await rest('POST', `/Calls/${call.sid}/Recordings.json`);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 21220 });
  });

  it('refuses a recording update (Twilio.CURRENT or by SID) with 21220 once the call has ended, and while it rings', async () => {
    let ringing: { status: number; json: unknown } | undefined;
    service.routes.set('/voice', async (params) => {
      ringing = await rest('POST', `/Calls/${params.CallSid}/Recordings/Twilio.CURRENT.json`, { Status: 'paused' });
      return '<Response><Start><Recording channels="dual"/></Start><Enqueue>hold</Enqueue></Response>';
    });
    const call = await emulator.placeCall({ from: '+15551230000', to: '+15005550006', voiceUrl: `${service.origin}/voice` });
    await eventually(() => call.recordings.length === 1);
    expect(ringing).toMatchObject({ status: 400, json: { code: 21220 } });
    const sid = call.recordings[0].sid;
    await call.hangup();
    for (const rec of ['Twilio.CURRENT', sid]) {
      const res = await rest('POST', `/Calls/${call.sid}/Recordings/${rec}.json`, { Status: 'paused' });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: 21220 });
    }
  });

  it('refuses a recording and a redirect with 21220 while an inbound call is still ringing (its first webhook unanswered)', async () => {
    let answered!: () => void;
    const answer = new Promise<void>((resolve) => (answered = resolve));
    let during: { recording: { status: number; json: unknown }; redirect: { status: number; json: unknown } } | undefined;
    let callSid = '';
    service.routes.set('/voice', async (params) => {
      callSid = params.CallSid;
      expect(params.CallStatus).toBe('ringing');
      during = {
        recording: await rest('POST', `/Calls/${params.CallSid}/Recordings.json`, { RecordingChannels: 'dual' }),
        redirect: await rest('POST', `/Calls/${params.CallSid}.json`, { Twiml: '<Response><Hangup/></Response>' }),
      };
      answered();
      return '<Response><Start><Recording channels="dual"/></Start><Enqueue>hold</Enqueue></Response>';
    });
    const call = await emulator.placeCall({ from: '+15551230000', to: '+15005550006', voiceUrl: `${service.origin}/voice` });
    await answer;
    expect(during?.recording).toMatchObject({ status: 400, json: { code: 21220 } });
    expect(during?.redirect).toMatchObject({ status: 400, json: { code: 21220 } });
    // once the TwiML runs the call is answered: <Start><Recording> started one, and REST works
    await eventually(() => call.status === 'in-progress' && call.recordings.length === 1);
    expect(call.sid).toBe(callSid);
    expect(call.recordings[0].toJson(ACCOUNT_SID)).toMatchObject({ source: 'StartCallRecordingTwiML', channels: 2, status: 'in-progress' });
    expect((await rest('POST', `/Calls/${call.sid}/Recordings/Twilio.CURRENT.json`, { Status: 'stopped' })).status).toBe(200);
    expect(call.recordingStatus).toBe('stopped');
  });

  it('lists, fetches and updates IncomingPhoneNumbers', async () => {
    const sid = emulator.addIncomingNumber('+15005550006');
    emulator.addIncomingNumber('+15005550007');
    const list = await rest('GET', '/IncomingPhoneNumbers.json?PhoneNumber=%2B15005550006');
    expect(list.json.incoming_phone_numbers).toEqual([expect.objectContaining({ sid, phone_number: '+15005550006' })]);

    const updated = await rest('POST', `/IncomingPhoneNumbers/${sid}.json`, {
      VoiceUrl: 'https://ivr.example.com/twilio/voice',
      VoiceMethod: 'POST',
      StatusCallback: 'https://ivr.example.com/twilio/status',
    });
    expect(updated.json).toMatchObject({
      voice_url: 'https://ivr.example.com/twilio/voice',
      voice_method: 'POST',
      status_callback: 'https://ivr.example.com/twilio/status',
    });
    expect(emulator.incomingNumbers.get(sid)).toMatchObject({ voiceUrl: 'https://ivr.example.com/twilio/voice' });
    expect((await rest('GET', `/IncomingPhoneNumbers/${sid}.json`)).json).toMatchObject({ sid });
    expect((await rest('GET', `/IncomingPhoneNumbers/PN${'0'.repeat(32)}.json`)).status).toBe(404);
  });

  it('outbound calls can be left unanswered (outboundCallOutcome) and call updates can fail (callsUpdate)', async () => {
    emulator.faults.outboundCallOutcome = 'busy';
    const created = await rest('POST', '/Calls.json', {
      To: 'client:bob',
      From: '+15005550006',
      Url: `${service.origin}/never`,
      StatusCallback: `${service.origin}/status`,
    });
    const call = emulator.calls.get(created.json.sid as string)!;
    await call.ended;
    expect(call.status).toBe('busy');
    expect(service.requests.map((r) => [r.path, r.params.CallStatus])).toEqual([['/status', 'busy']]);
    delete emulator.faults.outboundCallOutcome;

    const live = await liveCall();
    emulator.faults.callsUpdate = { status: 500, times: 1 };
    expect((await rest('POST', `/Calls/${live.sid}.json`, { Status: 'completed' })).status).toBe(500);
    expect(live.status).toBe('in-progress');
    expect((await rest('POST', `/Calls/${live.sid}.json`, { Status: 'completed' })).json).toMatchObject({ status: 'completed' });
  });

  it('redirects a live call to new TwiML (modify call)', async () => {
    const call = await liveCall();
    service.routes.set('/redirected', () => '<Response><Say>moved</Say></Response>');
    const res = await rest('POST', `/Calls/${call.sid}.json`, { Url: `${service.origin}/redirected` });
    expect(res.status).toBe(200);
    await call.ended;
    expect(call.transcript.map((e) => e.verb)).toEqual(['Enqueue', 'Say']);
    const redirected = service.requests.find((r) => r.path === '/redirected');
    expect(redirected).toMatchObject({ valid: true, params: expect.objectContaining({ CallStatus: 'in-progress' }) });

    // An ended call cannot be redirected.
    const late = await rest('POST', `/Calls/${call.sid}.json`, { Twiml: '<Response/>' });
    expect(late.status).toBe(400);
    expect(late.json).toMatchObject({ code: 21220 });
  });

  it("deletes a recording as Twilio does: not while it runs (20009, assumed: account-recordings.ts), 204 once its call ended and it was processed, then Twilio's 404 (soft-deleted)", async () => {
    const call = await liveCall();
    const started = await rest('POST', `/Calls/${call.sid}/Recordings.json`, {});
    const reSid = started.json.sid as string;
    const refused = { code: 20009, status: 400 };
    // in progress, then paused: Twilio deletes only a resource it has finished with
    expect(await rest('DELETE', `/Recordings/${reSid}.json`)).toMatchObject({ status: 400, json: refused });
    await rest('POST', `/Calls/${call.sid}/Recordings/${reSid}.json`, { Status: 'paused' });
    expect(await rest('DELETE', `/Recordings/${reSid}.json`)).toMatchObject({ status: 400, json: refused });
    expect((await rest('GET', `/Recordings/${reSid}.json`)).json).toMatchObject({ sid: reSid, status: 'paused' });

    await rest('POST', `/Calls/${call.sid}.json`, { Status: 'completed' });
    await call.ended;
    expect((await rest('GET', `/Recordings/${reSid}.json`)).json).toMatchObject({ sid: reSid, status: 'completed' });
    // a fault answers in its place, and the recording stays
    emulator.faults.recordingDelete = { status: 503, times: 1 };
    expect((await rest('DELETE', `/Recordings/${reSid}.json`)).status).toBe(503);
    const deleted = await rest('DELETE', `/Recordings/${reSid}.json`);
    expect(deleted.status).toBe(204);
    expect(deleted.json).toBeUndefined();
    // gone: fetched, listed on its call or deleted again, Twilio's 404
    const notFound = { code: 20404, status: 404 };
    expect(await rest('GET', `/Recordings/${reSid}.json`)).toMatchObject({ status: 404, json: notFound });
    expect(await rest('GET', `/Calls/${call.sid}/Recordings/${reSid}.json`)).toMatchObject({ status: 404, json: notFound });
    expect((await rest('GET', `/Calls/${call.sid}/Recordings.json`)).json).toMatchObject({ recordings: [] });
    expect(await rest('DELETE', `/Recordings/${reSid}.json`)).toMatchObject({ status: 404, json: notFound });
    expect(call.recordings).toEqual([]);
    // soft-deleted, as Twilio keeps a deleted recording's metadata: fetched with IncludeSoftDeleted=true, it is `deleted`
    expect(await rest('GET', `/Recordings/${reSid}.json?IncludeSoftDeleted=true`)).toMatchObject({ status: 200, json: { sid: reSid, status: 'deleted' } });
    expect(await rest('GET', `/Recordings/${reSid}.json?IncludeSoftDeleted=false`)).toMatchObject({ status: 404, json: notFound });
  });
});
