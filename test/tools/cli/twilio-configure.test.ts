import { configureNumber } from '../../../tools/cli/twilio-configure';
import { startTwilioEmulator, type TwilioEmulator } from '../../../tools/emulator';
import { ACCOUNT_SID, AUTH_TOKEN } from '../../support/harness';

describe('npm run twilio:configure', () => {
  let emulator: TwilioEmulator;
  beforeAll(async () => {
    emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  });
  afterAll(async () => emulator.close());

  test("points the number's Voice URL and status callback at the service", async () => {
    const sid = emulator.addIncomingNumber('+15005550006');
    const r = await configureNumber({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      apiBaseUrl: emulator.baseUrl,
      number: '+15005550006',
      publicUrl: 'https://ivr.example.com/',
    });
    expect(r.sid).toBe(sid);
    const n = emulator.incomingNumbers.get(sid)!;
    expect(n.voiceUrl).toBe('https://ivr.example.com/twilio/voice');
    expect(n.statusCallback).toBe('https://ivr.example.com/twilio/status');
  });

  test('an http origin is refused before Twilio is asked anything: the number keeps its URLs', async () => {
    const sid = emulator.addIncomingNumber('+15005550007');
    const before = { ...emulator.incomingNumbers.get(sid)! };
    await expect(
      configureNumber({
        accountSid: ACCOUNT_SID,
        authToken: AUTH_TOKEN,
        apiBaseUrl: emulator.baseUrl,
        number: '+15005550007',
        publicUrl: 'http://ivr.example.com',
      }),
    ).rejects.toThrow(/must be an https origin/);
    expect(emulator.incomingNumbers.get(sid)).toEqual(before);
  });

  test('an unknown number or bad credentials fail clearly', async () => {
    await expect(
      configureNumber({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBaseUrl: emulator.baseUrl, number: '+15009999999', publicUrl: 'https://x.example' }),
    ).rejects.toThrow(/no incoming phone number/);
    await expect(
      configureNumber({
        accountSid: ACCOUNT_SID,
        authToken: 'wrong-token-000000000000',
        apiBaseUrl: emulator.baseUrl,
        number: '+15005550006',
        publicUrl: 'https://x.example',
      }),
    ).rejects.toThrow();
  });
});
