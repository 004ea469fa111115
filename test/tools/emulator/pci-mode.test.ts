import { startTwilioEmulator, type TwilioEmulator } from '../../../tools/emulator';
import { originMap } from '../../../tools/emulator/origins';
import { ACCOUNT_SID, AUTH_TOKEN, startFakeService, type FakeService } from './fake-service';

const CALLER = '+15551234567';
const NUMBER = '+15005550006';
const PUBLIC = 'https://ivr.example.test';

describe('PCI Mode and TLS-terminated origins', () => {
  let emulator: TwilioEmulator;
  /** behind a TLS-terminating proxy at PUBLIC */
  let service: FakeService;
  /** reached over plain http */
  let direct: FakeService;

  beforeEach(async () => {
    service = await startFakeService(AUTH_TOKEN, {}, { publicOrigin: PUBLIC });
    direct = await startFakeService(AUTH_TOKEN);
    emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, pciMode: true, origins: { [PUBLIC]: service.origin } });
  });

  afterEach(async () => {
    await emulator.close();
    await service.close();
    await direct.close();
  });

  it('refuses a <Gather> with an http action (13337): the call ends before a key is taken or sent', async () => {
    direct.routes.set('/voice', () => '<Response><Gather action="/gather" finishOnKey="#"><Say>Card number.</Say></Gather></Response>');
    const asked: unknown[] = [];
    const call = await emulator.placeCall({
      from: CALLER,
      to: NUMBER,
      voiceUrl: `${direct.origin}/voice`,
      onGather: (g) => {
        asked.push(g);
        return '4111111111111111#';
      },
    });
    await call.ended;
    expect(call.transcript).toEqual([{ verb: 'ApplicationError', reason: expect.stringContaining('(13337)') }]);
    expect(asked).toEqual([]);
    expect(direct.requests.map((r) => r.path)).toEqual(['/voice']);
  });

  it('takes keys for an https action, signed as the public URL and delivered behind its proxy', async () => {
    service.routes.set('/voice', () => '<Response><Gather action="/gather" finishOnKey="#"><Say>Account.</Say></Gather></Response>');
    service.routes.set('/gather', (p) => `<Response><Say>Got ${p.Digits.length}</Say></Response>`);
    const call = await emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${PUBLIC}/voice`, onGather: () => '123456#' });
    await call.ended;
    expect(service.requests.map((r) => r.path)).toEqual(['/voice', '/gather']);
    // the relative action resolved against the public document URL, and signed as that URL
    const gather = service.requests[1];
    expect(gather.params.Digits).toBe('123456');
    expect(gather.valid).toBe(true);
    expect(gather.signature).toBe(emulator.signature(`${PUBLIC}/gather`, gather.params));
    expect(call.transcript.some((e) => e.verb === 'ApplicationError')).toBe(false);
  });

  it('the same call without PCI Mode takes keys over http', async () => {
    const plain = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    try {
      direct.routes.set('/voice', () => '<Response><Gather action="/gather" finishOnKey="#"><Say>Account.</Say></Gather></Response>');
      direct.routes.set('/gather', () => '<Response/>');
      const call = await plain.placeCall({ from: CALLER, to: NUMBER, voiceUrl: `${direct.origin}/voice`, onGather: () => '123456#' });
      await call.ended;
      expect(direct.requests.map((r) => r.path)).toEqual(['/voice', '/gather']);
    } finally {
      await plain.close();
    }
  });
});

describe('originMap', () => {
  const { reach } = originMap({ [PUBLIC]: 'http://127.0.0.1:4312' });

  it('sends the public origin, https and wss, to the local one, path and query kept', () => {
    expect(reach(`${PUBLIC}/twilio/gather/1/1?confirm=1`)).toBe('http://127.0.0.1:4312/twilio/gather/1/1?confirm=1');
    expect(reach('wss://ivr.example.test/media/abc')).toBe('ws://127.0.0.1:4312/media/abc');
    expect(reach('https://ivr.example.test:443/x')).toBe('http://127.0.0.1:4312/x');
  });

  it('leaves every other URL as it is, plain http to the public host too', () => {
    for (const url of ['http://ivr.example.test/x', 'https://other.example.test/x', 'not a url']) expect(reach(url)).toBe(url);
  });

  it('routes the public origin to another local one from then on (a load balancer taking an instance out)', () => {
    const lb = originMap({ [PUBLIC]: 'http://127.0.0.1:4312' });
    expect(lb.reach(`${PUBLIC}/twilio/voice`)).toBe('http://127.0.0.1:4312/twilio/voice');
    lb.route(PUBLIC, 'http://127.0.0.1:4313');
    expect(lb.reach(`${PUBLIC}/twilio/voice`)).toBe('http://127.0.0.1:4313/twilio/voice');
    expect(lb.reach('wss://ivr.example.test/media/abc')).toBe('ws://127.0.0.1:4313/media/abc');
    expect(() => lb.route('http://ivr.example.test', 'http://127.0.0.1:1')).toThrow(/https origin/);
  });

  it('refuses a map that is not https → http origins', () => {
    expect(() => originMap({ 'http://ivr.example.test': 'http://127.0.0.1:1' })).toThrow(/https origin/);
    expect(() => originMap({ [PUBLIC]: 'https://127.0.0.1:1' })).toThrow(/https origin/);
    expect(() => originMap({ [`${PUBLIC}/path`]: 'http://127.0.0.1:1' })).toThrow(/https origin/);
  });
});
