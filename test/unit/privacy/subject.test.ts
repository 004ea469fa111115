import { createHmac, hkdfSync } from 'node:crypto';
import { FROM_FIELD } from '../../../src/twilio/opening';
import { CALLER_VAULT_FIELD, isE164, subjectHash } from '../../../src/privacy';

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
