import { createHmac, hkdfSync } from 'node:crypto';
import { FROM_FIELD } from '../../../src/twilio/opening';
import { CALLER_VAULT_FIELD, isE164, isWithheldCallerId, subjectHash, WITHHELD_CALLER_IDS } from '../../../src/privacy';

test('subjectHash is the hex HMAC-SHA256 of the E.164 number, keyed with text or bytes', () => {
  const expected = createHmac('sha256', 'k').update('+15551234567').digest('hex');
  expect(subjectHash('k', '+15551234567')).toBe(expected);
  expect(subjectHash('k', '+15551234567')).not.toBe(subjectHash('k2', '+15551234567'));
  const key = Buffer.from(hkdfSync('sha256', 'jwt-secret', Buffer.alloc(0), 'label', 32));
  expect(subjectHash(key, '+15551234567')).toBe(createHmac('sha256', key).update('+15551234567').digest('hex'));
});

test('the caller number vault field is the one the flow runner seals the number under', () => {
  expect(CALLER_VAULT_FIELD).toBe(FROM_FIELD);
});

test('isE164', () => {
  for (const ok of ['+15551234567', '+447700900123', '+1234567']) expect(isE164(ok)).toBe(true);
  for (const bad of ['15551234567', '+0123456789', '+12345', '+1234567890123456', '+1 555', 'anonymous', 12]) expect(isE164(bad)).toBe(false);
});

describe('isWithheldCallerId', () => {
  /** a word as its letters are on a phone keypad (ITU E.161) */
  const keypad = (word: string) =>
    [...word.toUpperCase()].map((c) => ['ABC', 'DEF', 'GHI', 'JKL', 'MNO', 'PQRS', 'TUV', 'WXYZ'].findIndex((keys) => keys.includes(c)) + 2).join('');

  test("Twilio's placeholders are the words for a withheld number spelt on a keypad, each a well-formed E.164 number", () => {
    const words = ['ANONYMOUS', 'RESTRICTED', 'BLOCKED', 'UNKNOWN', 'UNAVAILABLE'];
    expect(WITHHELD_CALLER_IDS).toEqual(words.map((w) => '+' + keypad(w)));
    expect(WITHHELD_CALLER_IDS).toEqual(['+266696687', '+7378742833', '+2562533', '+8656696', '+86282452253']);
    // so the subject routes would take each as a number: the check must be its own
    for (const n of WITHHELD_CALLER_IDS) expect(isE164(n)).toBe(true);
  });

  test('withheld: each placeholder, each word in any case, and nothing at all', () => {
    for (const from of [...WITHHELD_CALLER_IDS, 'anonymous', 'Anonymous', 'ANONYMOUS', 'restricted', 'Blocked', 'unknown', 'Unavailable', '', ' ']) {
      expect(isWithheldCallerId(from)).toBe(true);
    }
  });

  test("a caller's own number, or one a digit off a placeholder, is not withheld", () => {
    for (const from of [
      '+15551234567',
      '+447700900123',
      '+2666966870',
      '+26669668',
      '+73787428330',
      '+2562534',
      'sip:alice@example.com',
      'client:alice',
      'anonymously',
    ]) {
      expect(isWithheldCallerId(from)).toBe(false);
    }
  });
});
