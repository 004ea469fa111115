import { multimon } from '../../support/audio';
import { keyTones } from '../../../tools/emulator';
import { connectStream, StreamRefusedError, startTwilioEmulator, type EmulatedCall, type MediaLeg, type TwilioEmulator } from '../../../tools/emulator';
import { ACCOUNT_SID, AUTH_TOKEN, eventually, startFakeService, twilioRest, type FakeService, type ReceivedStream, type RestCall } from './fake-service';

const PUBLIC = 'https://media.example.test';
const media = (s: ReceivedStream): Record<string, unknown>[] => s.messages.filter((m) => m.event === 'media');

describe('media streams: the emulator speaks Twilio Media Streams', () => {
  let emulator: TwilioEmulator;
  let service: FakeService;
  let rest: RestCall;

  beforeEach(async () => {
    // behind a TLS-terminating proxy, as Twilio reaches a service: it dials media streams over wss only
    service = await startFakeService(AUTH_TOKEN, {}, { publicOrigin: PUBLIC });
    // these tests count a stream's exact messages: no silence between them (the cadence's own tests are below)
    emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, origins: { [PUBLIC]: service.origin }, mediaCadence: false });
    rest = twilioRest(emulator.baseUrl);
  });

  afterEach(async () => {
    await emulator.close();
    await service.close();
  });

  it('Calls.json with inline <Connect><Stream> opens a signed stream; frames flow both ways; Status=completed ends it', async () => {
    const streamUrl = `${service.wsOrigin}/streams/one-time-token`;
    const outbound = new Promise<EmulatedCall>((resolve) => emulator.onOutboundCall(resolve));
    const serviceSide = service.nextStream();
    const created = await rest('POST', '/Calls.json', {
      To: 'client:alice',
      From: '+15005550006',
      Twiml: `<Response><Connect><Stream url="${streamUrl}"><Parameter name="leg" value="agent"/></Stream></Connect></Response>`,
      StatusCallback: `${PUBLIC}/twilio/status`,
      StatusCallbackEvent: ['initiated', 'answered', 'completed'],
    });
    expect(created.status).toBe(201);
    const call = await outbound;
    expect(call.sid).toBe(created.json.sid);
    expect(call.direction).toBe('outbound-api');

    const stream = await serviceSide;
    const leg = await call.legReady;
    expect(service.streamHandshakes).toEqual([{ path: '/streams/one-time-token', valid: true }]);
    expect(leg.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
    expect(leg.parameters).toEqual({ leg: 'agent' });

    await eventually(() => stream.messages.length >= 2);
    expect(stream.messages[0]).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(stream.messages[1]).toEqual({
      event: 'start',
      sequenceNumber: '1',
      start: {
        accountSid: ACCOUNT_SID,
        streamSid: leg.streamSid,
        callSid: call.sid,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: { leg: 'agent' },
      },
      streamSid: leg.streamSid,
    });

    // caller → service: 400 bytes become three 160-byte frames, the last padded with 0xFF
    const audio = new Uint8Array(400).map((_, i) => i % 256);
    await leg.sendAudio(audio);
    leg.sendDtmf('5');
    await eventually(() => stream.messages.length >= 6);
    const frames = media(stream);
    expect(frames).toHaveLength(3);
    expect(frames[0]).toEqual({
      event: 'media',
      sequenceNumber: '2',
      media: { track: 'inbound', chunk: '1', timestamp: '0', payload: Buffer.from(audio.subarray(0, 160)).toString('base64') },
      streamSid: leg.streamSid,
    });
    expect(frames.map((f) => (f.media as { timestamp: string }).timestamp)).toEqual(['0', '20', '40']);
    const last = Buffer.from((frames[2].media as { payload: string }).payload, 'base64');
    expect(last).toHaveLength(160);
    expect([...last.subarray(80)].every((b) => b === 0xff)).toBe(true);
    expect(stream.messages[5]).toEqual({
      event: 'dtmf',
      streamSid: leg.streamSid,
      sequenceNumber: '5',
      dtmf: { track: 'inbound_track', digit: '5' },
    });

    // service → caller: media, then a mark that comes back once the audio has played (2 frames = 40 ms)
    const back = new Uint8Array(320).fill(0x55);
    const sentAt = Date.now();
    stream.socket.send(JSON.stringify({ event: 'media', streamSid: leg.streamSid, media: { payload: Buffer.from(back).toString('base64') } }));
    stream.socket.send(JSON.stringify({ event: 'mark', streamSid: leg.streamSid, mark: { name: 'greeting-done' } }));
    stream.socket.send('not json');
    stream.socket.send(JSON.stringify({ event: 'media', streamSid: 'MZwrong', media: { payload: 'AAAA' } }));
    stream.socket.send(JSON.stringify({ event: 'media', streamSid: leg.streamSid, media: { payload: '***' } }));
    await eventually(() => leg.marks.length === 1);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(30);
    expect(leg.received).toEqual(back);
    expect(leg.receivedFrames).toBe(1);
    expect(leg.errors).toHaveLength(3);
    await eventually(() => stream.messages.some((m) => m.event === 'mark'));
    expect(stream.messages.find((m) => m.event === 'mark')).toEqual({
      event: 'mark',
      sequenceNumber: '6',
      streamSid: leg.streamSid,
      mark: { name: 'greeting-done' },
    });

    // modify call: Status=completed ends it — stop on the stream, then a signed status callback
    const ended = await rest('POST', `/Calls/${call.sid}.json`, { Status: 'completed' });
    expect(ended.json).toMatchObject({ status: 'completed' });
    await call.ended;
    await stream.closed;
    expect(stream.messages[stream.messages.length - 1]).toEqual({
      event: 'stop',
      sequenceNumber: '7',
      streamSid: leg.streamSid,
      stop: { accountSid: ACCOUNT_SID, callSid: call.sid },
    });
    const statuses = service.requests.filter((r) => r.path === '/twilio/status');
    expect(statuses.map((r) => [r.valid, r.params.CallStatus])).toEqual([
      [true, 'initiated'],
      [true, 'in-progress'],
      [true, 'completed'],
    ]);
    expect(statuses[2].params).toMatchObject({ CallSid: call.sid, Direction: 'outbound-api', To: 'client:alice' });
    const types = emulator.timelineFor(call.sid).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['stream-open', 'stream-close', 'call-status', 'twiml-verb']));
    expect(emulator.timelineFor(call.sid).find((e) => e.type === 'stream-close')).toMatchObject({ by: 'emulator', code: 1000 });
  });

  it('each message the service sends that Twilio cannot take is error 31924 on the timeline, named by its stream; the stream goes on', async () => {
    const outbound = new Promise<EmulatedCall>((resolve) => emulator.onOutboundCall(resolve));
    const serviceSide = service.nextStream();
    await rest('POST', '/Calls.json', {
      To: 'client:alice',
      From: '+15005550006',
      Twiml: `<Response><Connect><Stream url="${service.wsOrigin}/streams/t"/></Connect></Response>`,
    });
    const call = await outbound;
    const stream = await serviceSide;
    const leg = await call.legReady;
    const good = { event: 'media', streamSid: leg.streamSid, media: { payload: Buffer.from(new Uint8Array(160).fill(0x55)).toString('base64') } };
    stream.socket.send('not json');
    stream.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    stream.socket.send(JSON.stringify({ event: 'media', streamSid: 'MZ' + '0'.repeat(32), media: { payload: 'AAAA' } }));
    stream.socket.send(JSON.stringify({ event: 'media', streamSid: leg.streamSid, media: { payload: '***' } }));
    stream.socket.send(JSON.stringify({ event: 'speak', streamSid: leg.streamSid }));
    stream.socket.send(JSON.stringify(good));
    await eventually(() => leg.receivedFrames === 1);
    const errors = emulator.timelineFor(call.sid).filter((e) => e.type === 'notification');
    expect(errors).toHaveLength(5);
    expect(errors.every((e) => e.type === 'notification' && e.level === 'error' && e.code === 31924 && e.streamSid === leg.streamSid)).toBe(true);
    expect(errors.map((e) => (e.type === 'notification' ? e.message : ''))).toEqual(leg.errors.map((r) => `Stream - WebSocket - Protocol Error: ${r}`));
    expect(call.legs).toEqual([leg]);
    expect(leg.isOpen).toBe(true);
  });

  it('records the call audio while in-progress, skips it while paused with skip, silences it with silence', async () => {
    service.routes.set('/voice', () => `<Response><Connect><Stream url="${service.wsOrigin}/streams/caller"/></Connect></Response>`);
    const serviceSide = service.nextStream();
    let legFromHandler: MediaLeg | undefined;
    const call = await emulator.placeCall({
      from: '+15551234567',
      to: '+15005550006',
      voiceUrl: `${PUBLIC}/voice`,
      onStream: (l) => {
        legFromHandler = l;
      },
    });
    const leg = await call.legReady;
    const stream = await serviceSide;
    expect(legFromHandler).toBe(leg);
    const path = `/Calls/${call.sid}/Recordings/Twilio.CURRENT.json`;
    const frame = (v: number): Uint8Array => new Uint8Array(160).fill(v);

    leg.sendFrame(frame(1)); // no recording yet
    await rest('POST', `/Calls/${call.sid}/Recordings.json`, { RecordingChannels: 'dual' });
    leg.sendFrame(frame(2));
    await rest('POST', path, { Status: 'paused', PauseBehavior: 'skip' });
    leg.sendFrame(frame(3));
    await rest('POST', path, { Status: 'in-progress' });
    leg.sendFrame(frame(4));
    // the service's audio to a bridged leg is recorded too
    stream.socket.send(JSON.stringify({ event: 'media', streamSid: leg.streamSid, media: { payload: Buffer.from(frame(5)).toString('base64') } }));
    await eventually(() => leg.receivedFrames === 1);
    await rest('POST', path, { Status: 'paused', PauseBehavior: 'silence' });
    leg.sendFrame(frame(6));

    // dual channel: the caller's own audio (inbound) first, what the service played to them second
    const [inbound, outbound] = call.recordings[0].channels();
    expect(inbound).toHaveLength(160 * 3);
    expect([inbound[0], inbound[160], inbound[320]]).toEqual([2, 4, 0xff]);
    expect(outbound).toHaveLength(160);
    expect(outbound[0]).toBe(5);
    expect(call.recordingAudio).toHaveLength(160 * 3);
    expect(call.recordingStatus).toBe('paused');
    await call.hangup();
    expect(call.recordingStatus).toBe('stopped');
    await stream.closed;
    expect(stream.messages[stream.messages.length - 1]).toMatchObject({ event: 'stop' });
  });

  it('records what a bidirectional stream plays into the call (outbound channel) and a dtmf event as its tone (inbound)', async () => {
    service.routes.set(
      '/voice',
      () => `<Response><Start><Recording channels="dual"/></Start><Connect><Stream url="${service.wsOrigin}/streams/r"/></Connect></Response>`,
    );
    const serviceSide = service.nextStream();
    const call = await emulator.placeCall({ from: '+15551234567', to: '+15005550006', voiceUrl: `${PUBLIC}/voice` });
    const leg = await call.legReady;
    const stream = await serviceSide;
    expect(call.recordings).toHaveLength(1);
    leg.sendFrame(new Uint8Array(160).fill(0xff));
    leg.sendDtmf('5');
    const played = keyTones('9');
    for (let i = 0; i < played.length; i += 160) {
      const frame = new Uint8Array(160).fill(0xff);
      frame.set(played.subarray(i, i + 160));
      stream.socket.send(JSON.stringify({ event: 'media', streamSid: leg.streamSid, media: { payload: Buffer.from(frame).toString('base64') } }));
    }
    await eventually(() => leg.receivedFrames === Math.ceil(played.length / 160));
    const [inbound, outbound] = call.recordings[0].channels();
    expect(multimon(inbound)).toBe('5');
    expect(multimon(outbound)).toBe('9');
    expect(multimon(call.recordingAudio)).toMatch(/^(59|95)$/);
    await call.hangup();
  });

  it('a <Start><Stream> is unidirectional: nothing the service sends is played or marked, and a key goes out as no dtmf event', async () => {
    service.routes.set(
      '/voice',
      () =>
        `<Response><Start><Recording channels="dual"/></Start><Start><Stream url="${service.wsOrigin}/streams/fork"/></Start><Enqueue>hold</Enqueue></Response>`,
    );
    const serviceSide = service.nextStream();
    const call = await emulator.placeCall({ from: '+15551234567', to: '+15005550006', voiceUrl: `${PUBLIC}/voice` });
    const stream = await serviceSide;
    await eventually(() => call.legs.length === 1);
    const [leg] = call.legs;
    const played = keyTones('9');
    for (let i = 0; i < played.length; i += 160) {
      const frame = new Uint8Array(160).fill(0xff);
      frame.set(played.subarray(i, i + 160));
      stream.socket.send(JSON.stringify({ event: 'media', streamSid: leg.streamSid, media: { payload: Buffer.from(frame).toString('base64') } }));
    }
    stream.socket.send(JSON.stringify({ event: 'mark', streamSid: leg.streamSid, mark: { name: 'm1' } }));
    stream.socket.send(JSON.stringify({ event: 'clear', streamSid: leg.streamSid }));
    const sent = Math.ceil(played.length / 160) + 2;
    await eventually(() => leg.errors.length === sent);
    expect(leg.receivedFrames).toBe(0);
    expect(leg.marks).toEqual([]);
    expect(leg.clears).toBe(0);

    leg.sendDtmf('5');
    leg.sendFrame(new Uint8Array(160).fill(0xff));
    await eventually(() => media(stream).length === 1);
    expect(stream.messages.map((m) => m.event)).toEqual(['connected', 'start', 'media']);
    // the key still sounds on the call, so the recording holds it; the service's audio was never played
    const [inbound, outbound] = call.recordings[0].channels();
    expect(multimon(inbound)).toBe('5');
    expect(multimon(outbound)).toBe('');
    await call.hangup();
  });

  it('goes on with the next verb when the service closes the stream', async () => {
    service.routes.set('/voice', () => `<Response><Connect><Stream url="${service.wsOrigin}/streams/x"/></Connect><Say>after the stream</Say></Response>`);
    const serviceSide = service.nextStream();
    const call = await emulator.placeCall({ from: '+15551234567', to: '+15005550006', voiceUrl: `${PUBLIC}/voice` });
    const stream = await serviceSide;
    stream.socket.close(1000, 'done');
    await call.ended;
    expect(call.transcript.map((e) => e.verb)).toEqual(['Connect/Stream', 'Say']);
    expect(emulator.timelineFor(call.sid).find((e) => e.type === 'stream-close')).toMatchObject({ by: 'service' });
  });

  it('a REST redirect during a stream stops the stream and runs the new TwiML', async () => {
    service.routes.set('/voice', () => `<Response><Connect><Stream url="${service.wsOrigin}/streams/y"/></Connect></Response>`);
    const serviceSide = service.nextStream();
    const call = await emulator.placeCall({ from: '+15551234567', to: '+15005550006', voiceUrl: `${PUBLIC}/voice` });
    const stream = await serviceSide;
    await call.legReady;
    await rest('POST', `/Calls/${call.sid}.json`, { Twiml: '<Response><Say>redirected</Say><Hangup/></Response>' });
    await call.ended;
    await stream.closed;
    expect(stream.messages.map((m) => m.event)).toEqual(['connected', 'start', 'stop']);
    expect(call.transcript.map((e) => e.verb)).toEqual(['Connect/Stream', 'Say', 'Hangup']);
  });

  it('strips a query string from the stream URL, and goes on when the stream is refused', async () => {
    service.routes.set(
      '/voice',
      () => `<Response>
  <Connect><Stream url="${service.wsOrigin}/streams/q?secret=1"/></Connect>
  <Connect><Stream url="${service.wsOrigin}/streams/refused"/></Connect>
  <Say>still here</Say>
</Response>`,
    );
    const serviceSide = service.nextStream();
    const call = await emulator.placeCall({ from: '+15551234567', to: '+15005550006', voiceUrl: `${PUBLIC}/voice` });
    const stream = await serviceSide;
    expect(stream.path).toBe('/streams/q');
    stream.socket.close();
    await call.ended;
    const opens = emulator.timelineFor(call.sid).filter((e) => e.type === 'stream-open');
    expect(opens).toEqual([
      expect.objectContaining({ accepted: true, url: `${service.wsOrigin}/streams/q` }),
      expect.objectContaining({ accepted: false, httpStatus: 404 }),
    ]);
    expect(call.transcript.map((e) => e.verb)).toEqual(['Connect/Stream', 'Connect/Stream', 'Say']);
    // the refused handshake never became a stream, so only the first one closed
    expect(emulator.timelineFor(call.sid).filter((e) => e.type === 'stream-close')).toHaveLength(1);
  });

  it('never dials a ws:// stream URL (31922): no handshake reaches the service, and the call goes on', async () => {
    const plain = service.origin.replace(/^http/, 'ws');
    service.routes.set('/voice', () => `<Response><Connect><Stream url="${plain}/streams/plain"/></Connect><Say>after the stream</Say></Response>`);
    const call = await emulator.placeCall({ from: '+15551234567', to: '+15005550006', voiceUrl: `${PUBLIC}/voice` });
    await call.ended;
    expect(emulator.timelineFor(call.sid).filter((e) => e.type === 'stream-open')).toEqual([
      expect.objectContaining({ accepted: false, errorCode: 31922, url: `${plain}/streams/plain` }),
    ]);
    expect(service.streamHandshakes).toEqual([]);
    expect(call.transcript.map((e) => e.verb)).toEqual(['Connect/Stream', 'Say']);
  });

  it('opens no stream for a <Stream track> the verb does not take (31941): <Connect> takes inbound_track only; the call goes on', async () => {
    service.routes.set(
      '/voice',
      () =>
        `<Response><Connect><Stream url="${service.wsOrigin}/streams/both" track="both_tracks"/></Connect>` +
        `<Start><Stream url="${service.wsOrigin}/streams/bad" track="both"/></Start><Say>after the streams</Say></Response>`,
    );
    const call = await emulator.placeCall({ from: '+15551234567', to: '+15005550006', voiceUrl: `${PUBLIC}/voice` });
    await call.ended;
    expect(emulator.timelineFor(call.sid).filter((e) => e.type === 'stream-open')).toEqual([
      expect.objectContaining({ accepted: false, errorCode: 31941, url: `${service.wsOrigin}/streams/both` }),
      expect.objectContaining({ accepted: false, errorCode: 31941, url: `${service.wsOrigin}/streams/bad` }),
    ]);
    expect(service.streamHandshakes).toEqual([]);
    expect(call.transcript.map((e) => e.verb)).toEqual(['Connect/Stream', 'Start/Stream', 'Say']);
  });

  it('<Start><Stream track="both_tracks"> streams both tracks; an explicit inbound_track on <Connect> is taken', async () => {
    service.routes.set(
      '/voice',
      () =>
        `<Response><Start><Stream url="${service.wsOrigin}/streams/fork" track="both_tracks"/></Start>` +
        `<Connect><Stream url="${service.wsOrigin}/streams/main" track="inbound_track"/></Connect></Response>`,
    );
    const fork = service.nextStream();
    const main = service.nextStream();
    const call = await emulator.placeCall({ from: '+15551234567', to: '+15005550006', voiceUrl: `${PUBLIC}/voice` });
    const forked = await fork;
    await eventually(() => forked.messages.length >= 2);
    expect(forked.messages[1]).toMatchObject({ event: 'start', start: { tracks: ['inbound', 'outbound'] } });
    const connected = await main;
    await eventually(() => connected.messages.length >= 2);
    expect(connected.messages[1]).toMatchObject({ event: 'start', start: { tracks: ['inbound'] } });
    await call.hangup();
  });

  it('connectStream rejects with the handshake status when the service refuses the stream', async () => {
    const url = `${service.wsOrigin}/streams/raw`;
    const opts = { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, reach: service.reach };
    await expect(connectStream(url, { ...opts, signature: null })).rejects.toMatchObject({ status: 400 });
    const forged = connectStream(url, { ...opts, signature: 'forged' });
    await expect(forged).rejects.toBeInstanceOf(StreamRefusedError);
    await expect(forged).rejects.toMatchObject({ status: 403 });

    const leg = await connectStream(url, opts);
    await leg.opened;
    leg.sendRaw('{"event":"garbage"');
    await leg.stop();
    const closed = await leg.closed;
    expect(closed.code).toBe(1000);
  });

  it('paces frames 20 ms apart in realtime mode, and a clear returns pending marks at once', async () => {
    const serviceSide = service.nextStream();
    const leg = await connectStream(`${service.wsOrigin}/streams/pace`, { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, reach: service.reach });
    const stream = await serviceSide;
    const t0 = Date.now();
    await leg.sendAudio(new Uint8Array(160 * 6), { realtime: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);

    // 1 s of audio queued, then a mark, then clear: the mark comes back without waiting
    stream.socket.send(JSON.stringify({ event: 'media', streamSid: leg.streamSid, media: { payload: Buffer.alloc(8000, 0x11).toString('base64') } }));
    stream.socket.send(JSON.stringify({ event: 'mark', streamSid: leg.streamSid, mark: { name: 'm1' } }));
    stream.socket.send(JSON.stringify({ event: 'clear', streamSid: leg.streamSid }));
    const cleared = Date.now();
    await eventually(() => leg.marks.length === 1);
    expect(Date.now() - cleared).toBeLessThan(500);
    expect(leg.clears).toBe(1);
    // where in what the leg heard the clear came: after the 8000 bytes before it
    expect(leg.clearedAt).toEqual([8000]);
    expect(leg.sentBytes).toBe(160 * 6);
    await leg.stop();
  });
});

describe("media streams: Twilio's 20 ms cadence, silence when the party is quiet", () => {
  let emulator: TwilioEmulator;
  let service: FakeService;

  beforeEach(async () => {
    service = await startFakeService(AUTH_TOKEN, {}, { publicOrigin: PUBLIC });
    emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, origins: { [PUBLIC]: service.origin }, mediaCadence: true });
  });

  afterEach(async () => {
    await emulator.close();
    await service.close();
  });

  type Media = { sequenceNumber: string; media: { track: string; chunk: string; timestamp: string; payload: string } };
  const mediaOf = (s: ReceivedStream): Media[] => media(s) as unknown as Media[];
  const bytesOf = (m: Media): Buffer => Buffer.from(m.media.payload, 'base64');
  const isSilence = (m: Media): boolean => bytesOf(m).every((b) => b === 0xff);

  async function quietStream(): Promise<{ call: EmulatedCall; leg: MediaLeg; stream: ReceivedStream }> {
    service.routes.set('/voice', () => `<Response><Connect><Stream url="${service.wsOrigin}/streams/quiet"/></Connect></Response>`);
    const serviceSide = service.nextStream();
    const call = await emulator.placeCall({ from: '+15551234567', to: '+15005550006', voiceUrl: `${PUBLIC}/voice` });
    return { call, leg: await call.legReady, stream: await serviceSide };
  }

  it('a leg nobody speaks on sends 160 bytes of μ-law silence every 20 ms, in real time, its fields counting on', async () => {
    const { call, stream } = await quietStream();
    const opened = Date.now();
    await eventually(() => mediaOf(stream).length >= 25, 5_000);
    const elapsed = Date.now() - opened;
    const frames = mediaOf(stream);
    // real-time pace: never more frames than 20 ms slots have passed (plus the one in flight)
    expect(frames.length).toBeLessThanOrEqual(Math.ceil(elapsed / 20) + 1);
    for (const m of frames) {
      expect(bytesOf(m)).toHaveLength(160);
      expect(isSilence(m)).toBe(true);
      expect(m.media.track).toBe('inbound');
    }
    // start was sequenceNumber 1; every media message after it counts on by one, its chunk and timestamp with it
    expect(frames.map((m) => Number(m.sequenceNumber))).toEqual(frames.map((_, i) => i + 2));
    expect(frames.map((m) => Number(m.media.chunk))).toEqual(frames.map((_, i) => i + 1));
    expect(frames.map((m) => Number(m.media.timestamp))).toEqual(frames.map((_, i) => i * 20));
    await call.hangup();
    await stream.closed;
    expect(stream.messages[stream.messages.length - 1]).toMatchObject({ event: 'stop' });
  });

  it("a test's audio goes out whole, never cut by silence, and the numbering runs on across audio and silence", async () => {
    const { call, leg, stream } = await quietStream();
    await eventually(() => mediaOf(stream).length >= 3, 5_000);
    // the leg's sentBytes counts the silence as it goes: the audio starts right after it
    const audioAt = leg.sentBytes;
    // 200 ms at real-time pace, then 200 ms as fast as it goes: the cadence waits for both
    await leg.sendAudio(new Uint8Array(160 * 10).fill(0x11), { realtime: true });
    await leg.sendAudio(new Uint8Array(160 * 10).fill(0x22));
    const sentAt = mediaOf(stream).length;
    await eventually(() => mediaOf(stream).length >= sentAt + 5, 5_000);
    const frames = mediaOf(stream);
    const loud = frames.map((m, i) => (isSilence(m) ? -1 : i)).filter((i) => i >= 0);
    expect(loud).toHaveLength(20);
    // the twenty frames are consecutive: no silence inside the audio
    expect(loud[19] - loud[0]).toBe(19);
    expect(frames.slice(loud[0], loud[0] + 10).every((m) => bytesOf(m)[0] === 0x11)).toBe(true);
    expect(frames.slice(loud[0] + 10, loud[0] + 20).every((m) => bytesOf(m)[0] === 0x22)).toBe(true);
    // silence before and after it
    expect(loud[0]).toBeGreaterThanOrEqual(3);
    expect(frames.slice(loud[19] + 1).every(isSilence)).toBe(true);
    expect(frames.length).toBeGreaterThan(loud[19] + 1);
    expect(frames.map((m) => Number(m.media.chunk))).toEqual(frames.map((_, i) => i + 1));
    expect(frames.map((m) => Number(m.media.timestamp))).toEqual(frames.map((_, i) => i * 20));
    const seqs = stream.messages.filter((m) => m.sequenceNumber !== undefined).map((m) => Number(m.sequenceNumber));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(loud[0] * 160).toBe(audioAt);
    await call.hangup();
    await stream.closed;
    // every byte on the wire, audio and silence, counted once
    expect(leg.sentBytes).toBe(mediaOf(stream).length * 160);
  });

  it('the silence stops with the stream: nothing after `stop`, nor once the service closed it', async () => {
    const { call, stream } = await quietStream();
    await eventually(() => mediaOf(stream).length >= 2, 5_000);
    stream.socket.close(1000, 'done');
    await call.ended;
    const count = stream.messages.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stream.messages).toHaveLength(count);
    expect(call.legs[0].isOpen).toBe(false);
  });
});
