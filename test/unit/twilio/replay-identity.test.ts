/**
 * What a webhook means to the replay guard: only a well-formed CallSid names a call.
 */
import { callbackIdentity, gatherIdentity, guardIdentity, voiceIdentity } from '../../../src/twilio/replay-identity';

const CALL = 'CA' + 'a1'.repeat(16);

describe('replay identity', () => {
  test("a call's first webhook is once per call, whatever else it carries", () => {
    expect(voiceIdentity({ CallSid: CALL, From: '+15551234567' }, 'sig1')).toEqual({ callSid: CALL, parts: ['voice'] });
    expect(voiceIdentity({ CallSid: CALL, From: '+15559999999' }, 'sig2')).toEqual(voiceIdentity({ CallSid: CALL }, 'sig3'));
  });

  test('a gather action is once per (call, step, attempt), from the path the service wrote', () => {
    expect(gatherIdentity('2', '1')({ CallSid: CALL, Digits: '1234' }, 's')).toEqual({ callSid: CALL, parts: ['gather', '2', '1'] });
    expect(gatherIdentity('2', '1')({ CallSid: CALL, Digits: '9999' }, 't')).toEqual(gatherIdentity('2', '1')({ CallSid: CALL }, 'u'));
    expect(gatherIdentity('2', '2')({ CallSid: CALL }, 's')).not.toEqual(gatherIdentity('2', '1')({ CallSid: CALL }, 's'));
    // the Gather asked again after a stray key is a request of its own, and so is a confirm
    expect(gatherIdentity('2', '1', false, true)({ CallSid: CALL }, 's')).toEqual({ callSid: CALL, parts: ['gather', '2', '1', 'again'] });
    expect(gatherIdentity('2', '1', true, true)({ CallSid: CALL }, 's')).toEqual({ callSid: CALL, parts: ['gather', '2', '1', 'confirm', 'again'] });
  });

  test("a guard's action is once per (call, step), whatever it gathered, and never a gather's", () => {
    expect(guardIdentity('2')({ CallSid: CALL, Digits: '1234' }, 's')).toEqual({ callSid: CALL, parts: ['guard', '2'] });
    expect(guardIdentity('2')({ CallSid: CALL, Digits: '99' }, 't')).toEqual(guardIdentity('2')({ CallSid: CALL }, 'u'));
    expect(guardIdentity('2')({ CallSid: CALL }, 's')).not.toEqual(gatherIdentity('2', '1')({ CallSid: CALL }, 's'));
    expect(guardIdentity('2')({ CallSid: 'CA' + 'z'.repeat(31) + ':' }, 's')).toBeNull();
    // a test rig's shorter SID names a call as Twilio's does (sids.ts)
    expect(guardIdentity('2')({ CallSid: 'CA12ab' }, 's')).toEqual({ callSid: 'CA12ab', parts: ['guard', '2'] });
  });

  test('a callback is told apart by its route and signature: copies share it, distinct callbacks do not', () => {
    const status = callbackIdentity('status');
    expect(status({ CallSid: CALL, CallStatus: 'completed' }, 'sigA')).toEqual({ callSid: CALL, parts: ['status', 'sigA'] });
    expect(status({ CallSid: CALL, CallStatus: 'ringing' }, 'sigB')).not.toEqual(status({ CallSid: CALL, CallStatus: 'completed' }, 'sigA'));
    expect(callbackIdentity('recording-status')({ CallSid: CALL }, 'sigA')).not.toEqual(status({ CallSid: CALL }, 'sigA'));
  });

  test.each([
    ['missing', {}],
    ['empty', { CallSid: '' }],
    ['not a call (a recording SID)', { CallSid: 'RE' + 'a'.repeat(32) }],
    // any length from 1 to 62 letters or digits after CA is a CallSid (sids.ts): a test rig's shorter ones too
    ['with nothing after CA', { CallSid: 'CA' }],
    ['with a character other than a letter or digit', { CallSid: 'CA' + 'z'.repeat(31) + ':' }],
    ['longer than 64 characters', { CallSid: CALL + 'x'.repeat(31) }],
  ])('a CallSid %s gives no identity', (_name, params: Record<string, string>) => {
    expect(voiceIdentity(params, 's')).toBeNull();
    expect(gatherIdentity('0', '1')(params, 's')).toBeNull();
    expect(callbackIdentity('status')(params, 's')).toBeNull();
  });
});
