import { keyedDigits } from '../../../tools/emulator/keyed';
import { parseTwiml, TwimlError } from '../../../tools/emulator/twiml';
import { parseXml, XmlParseError } from '../../../tools/emulator/xml';

describe('TwiML parsing', () => {
  it('parses the verbs the service writes, with Twilio defaults', () => {
    const verbs = parseTwiml(`<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<Response>
  <Say language="en-US">Card &lt;number&gt; &#x2014; &#35; &apos;hash&apos;</Say>
  <Gather input="dtmf" finishOnKey="#" action="https://ivr.example.com/twilio/gather/abc?x=1&amp;y=2">
    <Say><![CDATA[Key <in> your card]]></Say>
    <Play>https://example.com/beep.wav</Play>
  </Gather>
  <Redirect method="GET">/twilio/next</Redirect>
  <Dial><Sip>sip:alice@example.com</Sip></Dial>
  <Connect action="/after"><Stream url="wss://ivr.example.com/media/t0k3n"><Parameter name="callSid" value="CA1"/></Stream></Connect>
  <Hangup/>
</Response>`);
    expect(verbs).toEqual([
      { verb: 'Say', text: "Card <number> \u2014 # 'hash'", voice: undefined, language: 'en-US', loop: 1 },
      {
        verb: 'Gather',
        action: 'https://ivr.example.com/twilio/gather/abc?x=1&y=2',
        method: 'POST',
        input: 'dtmf',
        numDigits: undefined,
        finishOnKey: '#',
        timeout: 5,
        actionOnEmptyResult: false,
        prompts: [
          { verb: 'Say', text: 'Key <in> your card', voice: undefined, language: undefined, loop: 1 },
          { verb: 'Play', url: 'https://example.com/beep.wav', digits: undefined, loop: 1 },
        ],
      },
      { verb: 'Redirect', url: '/twilio/next', method: 'GET' },
      { verb: 'Dial', target: 'sip:alice@example.com', targetKind: 'Sip', action: undefined, method: 'POST', timeout: 30 },
      {
        verb: 'Connect',
        action: '/after',
        method: 'POST',
        stream: {
          url: 'wss://ivr.example.com/media/t0k3n',
          name: undefined,
          track: undefined,
          statusCallback: undefined,
          parameters: { callSid: 'CA1' },
        },
        other: undefined,
      },
      { verb: 'Hangup' },
    ]);
  });

  it('parses <Start><Recording> with Twilio defaults and <Stop><Recording name>', () => {
    // the defaults of Twilio's <Recording> docs (dual, trim-silence), not those of its REST create (mono, do-not-trim)
    expect(parseTwiml('<Response><Start><Recording/></Start></Response>')).toEqual([
      {
        verb: 'Start',
        recording: {
          channels: 'dual',
          track: 'both',
          trim: 'trim-silence',
          statusCallback: undefined,
          statusCallbackMethod: 'POST',
          statusCallbackEvents: ['completed'],
          name: undefined,
        },
      },
    ]);
    const [start, stop] = parseTwiml(
      '<Response><Start><Recording name="r1" channels="dual" recordingStatusCallback="https://x.example/rs?leg=agent&amp;call=CA1" recordingStatusCallbackEvent="in-progress completed absent"/></Start><Stop><Recording name="r1"/></Stop></Response>',
    );
    expect(start).toMatchObject({
      recording: {
        channels: 'dual',
        statusCallback: 'https://x.example/rs?leg=agent&call=CA1',
        statusCallbackEvents: ['in-progress', 'completed', 'absent'],
        name: 'r1',
      },
    });
    expect(stop).toEqual({ verb: 'Stop', recordingName: 'r1' });
    // an event Twilio does not know is its warning 13621: the recording starts with the events it knows
    const [warned] = parseTwiml('<Response><Start><Recording recordingStatusCallbackEvent="in-progress paused absent"/></Start></Response>');
    expect(warned).toMatchObject({
      recording: { statusCallbackEvents: ['in-progress', 'absent'] },
      warnings: [{ code: 13621, message: "Invalid 'recordingStatusCallbackEvent': paused" }],
    });
    expect(parseTwiml('<Response><Start><Recording recordingStatusCallbackEvent="paused"/></Start></Response>')[0]).toMatchObject({
      recording: { statusCallbackEvents: ['completed'] },
      warnings: [{ code: 13621 }],
    });
    for (const xml of [
      '<Response><Start><Recording channels="stereo"/></Start></Response>',
      '<Response><Start><Recording track="sideways"/></Start></Response>',
      '<Response><Stop><Recording/></Stop></Response>',
    ]) {
      expect(() => parseTwiml(xml)).toThrow(TwimlError);
    }
  });

  it('rejects what Twilio would reject', () => {
    const bad = [
      '<Response><Say>unclosed</Response>',
      '<Speak/>',
      '<Response><Gather><Dial>1</Dial></Gather></Response>',
      '<Response><Connect><Stream url="https://not-ws"/></Connect></Response>',
      '<Response><Gather numDigits="four"/></Response>',
      '<Response><Say>&nbsp;</Say></Response>',
      '<Response a="1" a="2"/>',
      '<Response/><Response/>',
    ];
    for (const xml of bad) expect(() => parseTwiml(xml)).toThrow(TwimlError);
  });

  it('takes <Say language/voice> as Twilio names them and <Play> inside <Gather>; refuses what Twilio cannot speak or fetch', () => {
    const [say, gather] = parseTwiml(
      '<Response><Say language="es-MX" voice="Polly.Mia-Neural">Hola</Say><Gather><Play>/audio/card.mp3</Play><Say voice="Google.es-ES-Standard-A" language="es-ES">Tarjeta</Say><Play digits="ww1"/></Gather></Response>',
    );
    expect(say).toEqual({ verb: 'Say', text: 'Hola', voice: 'Polly.Mia-Neural', language: 'es-MX', loop: 1 });
    expect(gather).toMatchObject({
      prompts: [
        { verb: 'Play', url: '/audio/card.mp3' },
        { verb: 'Say', language: 'es-ES' },
        { verb: 'Play', url: '', digits: 'ww1' },
      ],
    });
    for (const ok of ['en', 'en-gb', 'en-US', 'fr-CA', 'cmn-CN']) expect(() => parseTwiml(`<Response><Say language="${ok}">x</Say></Response>`)).not.toThrow();
    for (const xml of [
      '<Response><Say language="spanish">x</Say></Response>',
      '<Response><Say language="es_ES">x</Say></Response>',
      '<Response><Say voice="Siri">x</Say></Response>',
      '<Response><Say voice="Google.es-ES-Standard-A" language="en-US">x</Say></Response>',
      '<Response><Play/></Response>',
      '<Response><Play>ftp://example.com/a.mp3</Play></Response>',
      '<Response><Gather><Play digits="12x"/></Gather></Response>',
    ]) {
      expect(() => parseTwiml(xml)).toThrow(TwimlError);
    }
  });

  it('reports XML errors with their offset', () => {
    expect(() => parseXml('<a><b></a>')).toThrow(XmlParseError);
    expect(parseXml('<a x=\'1\' y = "2">t<b/>u</a>')).toEqual({
      kind: 'element',
      name: 'a',
      attrs: { x: '1', y: '2' },
      children: [
        { kind: 'text', text: 't' },
        { kind: 'element', name: 'b', attrs: {}, children: [] },
        { kind: 'text', text: 'u' },
      ],
    });
  });
});

describe('Gather key handling', () => {
  it('submits digits up to finishOnKey or numDigits, as Twilio does; the keys after its end are pressed after it', () => {
    expect(keyedDigits('4111#', '#')).toEqual({ digits: '4111', finishedOnKey: '#', rest: '' });
    expect(keyedDigits('12#34', '#')).toEqual({ digits: '12', finishedOnKey: '#', rest: '34' });
    expect(keyedDigits('123456', '#', 4)).toEqual({ digits: '1234', finishedOnKey: '', rest: '56' });
    expect(keyedDigits('#', '#')).toEqual({ digits: '', finishedOnKey: '#', rest: '' });
    expect(keyedDigits('12#', '')).toEqual({ digits: '12#', finishedOnKey: '', rest: '' });
    expect(keyedDigits('', '#')).toEqual({ digits: '', finishedOnKey: '', rest: '' });
  });

  it("ends on the caller's pause (its timeout): no key ended it, the rest is pressed after", () => {
    expect(keyedDigits('4111,1111#', '#')).toEqual({ digits: '4111', finishedOnKey: '', rest: '1111#' });
    expect(keyedDigits(',4111', '#')).toEqual({ digits: '', finishedOnKey: '', rest: '4111' });
    expect(keyedDigits('12,34', '#', 2)).toEqual({ digits: '12', finishedOnKey: '', rest: ',34' });
  });
});
