/** The SIDs a webhook may carry (sids.ts): the contract's `CA…` and `AC…`, letters and digits only. */
import { statusParams, voiceParams } from '../../../src/twilio/params';
import { dialStatusParams } from '../../../src/twilio/dial-status';

const ok = (CallSid: string, AccountSid = 'AC1') => voiceParams.safeParse({ CallSid, AccountSid }).success;

test("takes a test rig's shorter SIDs as Twilio's own", () => {
  expect(ok('CA1')).toBe(true);
  expect(ok('CAtest0001', 'ACtest')).toBe(true);
  expect(ok('CA' + 'f'.repeat(32), 'AC' + 'f'.repeat(32))).toBe(true);
  expect(ok('CA' + 'Z'.repeat(62))).toBe(true);
  expect(statusParams.safeParse({ CallSid: 'CA12', AccountSid: 'AC12', CallStatus: 'completed' }).success).toBe(true);
  expect(dialStatusParams.safeParse({ CallSid: 'CA12', AccountSid: 'AC12' }).success).toBe(true);
});

test('refuses anything but CA/AC and letters or digits, or past 64 characters: a SID goes into store keys and REST paths', () => {
  for (const bad of ['CA', 'CA12:x', 'CA12*', 'CA12/..', 'CA 12', 'ca12', 'XX12', 'CA' + 'a'.repeat(63)]) expect([bad, ok(bad)]).toEqual([bad, false]);
  for (const bad of ['AC', 'AC1/2', 'ac12']) expect([bad, ok('CA1', bad)]).toEqual([bad, false]);
});
