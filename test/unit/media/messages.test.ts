import { checkFramePayload, MAX_MESSAGE_BYTES, parseTwilioMessage, scanTwilioMedia, SequenceGuard } from '../../../src/media/messages';

const SID = 'MZ' + '0'.repeat(32);
const frame = Buffer.alloc(160, 0xff).toString('base64');
const media = (payload: string, seq = '3') =>
  JSON.stringify({ event: 'media', sequenceNumber: seq, streamSid: SID, media: { track: 'inbound', chunk: '1', timestamp: '0', payload } });

describe('parseTwilioMessage', () => {
  it('parses every Twilio event', () => {
    const start = parseTwilioMessage(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        streamSid: SID,
        start: {
          accountSid: 'AC1',
          streamSid: SID,
          callSid: 'CA1',
          tracks: ['inbound'],
          customParameters: { leg: 'caller' },
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      }),
    );
    expect(start.ok && start.msg.event === 'start' && start.msg.start.customParameters).toEqual({ leg: 'caller' });
    expect(parseTwilioMessage(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }))).toMatchObject({ ok: true });
    const m = parseTwilioMessage(media(frame));
    expect(m.ok && m.msg.event === 'media' && m.msg.media.payload).toBe(frame);
    const d = parseTwilioMessage(JSON.stringify({ event: 'dtmf', streamSid: SID, sequenceNumber: '4', dtmf: { track: 'inbound_track', digit: '#' } }));
    expect(d.ok && d.msg.event === 'dtmf' && d.msg.dtmf.digit).toBe('#');
    expect(parseTwilioMessage(JSON.stringify({ event: 'mark', streamSid: SID, sequenceNumber: '5', mark: { name: 'x' } }))).toMatchObject({ ok: true });
    expect(
      parseTwilioMessage(JSON.stringify({ event: 'stop', streamSid: SID, sequenceNumber: '6', stop: { accountSid: 'AC1', callSid: 'CA1' } })),
    ).toMatchObject({ ok: true });
  });

  it.each([
    ['json', '{"event":'],
    ['json', ''],
    ['unknown-event', JSON.stringify({ event: 'party', streamSid: SID })],
    ['unknown-event', JSON.stringify([1, 2])],
    ['unknown-event', 'null'],
    ['schema', JSON.stringify({ event: 'media', streamSid: SID })],
    ['schema', JSON.stringify({ event: 'dtmf', streamSid: SID, dtmf: { track: 'outbound_track', digit: '1' } })],
    ['schema', JSON.stringify({ event: 'dtmf', streamSid: SID, dtmf: { track: 'inbound_track', digit: '12' } })],
    ['schema', media(frame, '-1')],
    ['schema', JSON.stringify({ event: 'media', sequenceNumber: 3, streamSid: SID, media: { payload: frame } })],
    ['schema', JSON.stringify({ event: 'media', streamSid: '', media: { payload: frame } })],
    ['schema', JSON.stringify({ event: 'media', streamSid: SID, media: [frame] })],
    ['schema', JSON.stringify({ event: 'media', streamSid: SID, media: { payload: frame, chunk: 7 } })],
    ['base64', media('!!!!' + frame.slice(4))],
    ['base64', media('abc')],
    ['frame-size', media(Buffer.alloc(100).toString('base64'))],
    ['frame-size', media(Buffer.alloc(320).toString('base64'))],
    ['oversized', media('A'.repeat(MAX_MESSAGE_BYTES))],
  ])('drops %s: %#', (reason, text) => {
    expect(parseTwilioMessage(text)).toEqual({ ok: false, reason });
  });

  it('survives a 1 MB message without parsing it', () => {
    const big = JSON.stringify({ event: 'media', payload: 'A'.repeat(1024 * 1024) });
    expect(parseTwilioMessage(big)).toEqual({ ok: false, reason: 'oversized' });
  });
});

describe('scanTwilioMedia (the media fast path without JSON.parse)', () => {
  const speech = Buffer.from(Array.from({ length: 160 }, (_, i) => (0x80 + Math.round(20 * Math.sin(i / 7)) + (i % 13)) & 0xff)).toString('base64');
  // the layout Twilio writes: keys in this order, no whitespace
  const twilio = (seq: string, payload: string, sid = SID, track = 'inbound') =>
    `{"event":"media","sequenceNumber":"${seq}","media":{"track":"${track}","chunk":"7","timestamp":"140","payload":"${payload}"},"streamSid":"${sid}"}`;

  it('reads what JSON.parse reads, for messages as Twilio writes them', () => {
    for (const [seq, payload, track] of [
      ['1', frame, 'inbound'],
      ['123456789012345', speech, 'outbound'],
      ['42', speech, ''],
    ]) {
      const text = twilio(seq, payload, SID, track);
      const scanned = scanTwilioMedia(text);
      expect(scanned).not.toBeNull();
      expect(scanned).toEqual(JSON.parse(text));
      expect(parseTwilioMessage(text)).toEqual({ ok: true, msg: scanned });
    }
  });

  it.each([
    ['another key order', media(frame)],
    ['whitespace', twilio('1', frame).replace('"media",', '"media", ')],
    ['an escaped streamSid', twilio('1', frame, 'MZ\\u0041bc')],
    ['a quote in the streamSid', twilio('1', frame, 'MZ"x')],
    ['a 16-digit sequence number', twilio('1234567890123456', frame)],
    ['an empty sequence number', twilio('', frame)],
    ['a track with capitals', twilio('1', frame, SID, 'Inbound')],
    ['a payload outside the alphabet', twilio('1', '!!!!' + frame.slice(4))],
    ['a short payload', twilio('1', Buffer.alloc(100).toString('base64'))],
    ['a non-canonical payload', twilio('1', frame.slice(0, 213) + 'B==')],
    ['trailing bytes', twilio('1', frame) + ' '],
    ['an extra key', twilio('1', frame).replace('"streamSid"', '"x":"1","streamSid"')],
  ])('leaves %s to the general path', (_, text) => {
    expect(scanTwilioMedia(text)).toBeNull();
  });

  it('leaves the verdict on what it declines to the general path', () => {
    expect(parseTwilioMessage(twilio('1', '!!!!' + frame.slice(4)))).toEqual({ ok: false, reason: 'base64' });
    expect(parseTwilioMessage(twilio('1', Buffer.alloc(100).toString('base64')))).toEqual({ ok: false, reason: 'frame-size' });
    expect(parseTwilioMessage(twilio('1234567890123456', frame))).toEqual({ ok: false, reason: 'schema' });
    expect(parseTwilioMessage(twilio('1', frame).slice(0, -1))).toEqual({ ok: false, reason: 'json' });
    // non-canonical base64 (the last symbol carries stray bits): accepted as before, by the regex
    const loose = twilio('1', frame.slice(0, 213) + 'B==');
    expect(parseTwilioMessage(loose)).toMatchObject({ ok: true });
  });
});

describe('checkFramePayload', () => {
  it('accepts exactly one 160-byte frame', () => {
    expect(checkFramePayload(frame)).toBeNull();
    expect(checkFramePayload(Buffer.alloc(159).toString('base64'))).toBe('frame-size');
    expect(checkFramePayload(frame.slice(0, -2) + '=A')).toBe('base64');
    expect(checkFramePayload(frame.slice(0, 213) + 'B==')).toBeNull();
    expect(checkFramePayload(frame.slice(0, 100) + '*' + frame.slice(101))).toBe('base64');
  });
});

describe('SequenceGuard', () => {
  it('drops late and repeated numbers, allows gaps and messages without one', () => {
    const g = new SequenceGuard();
    expect(g.accept('1')).toBe(true);
    expect(g.accept('2')).toBe(true);
    expect(g.accept('2')).toBe(false);
    expect(g.accept('1')).toBe(false);
    expect(g.accept('10')).toBe(true);
    expect(g.accept(undefined)).toBe(true);
    expect(g.accept('9')).toBe(false);
  });
});
