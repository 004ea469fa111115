/**
 * The leak check the integration tests read every log line and Redis value with: it must find a
 * short value written plainly, and must not find one by chance inside a sealed value or a hash.
 */
import { randomBytes } from 'node:crypto';
import { holdsValue } from '../../support/values';

test('a short value written plainly is found, however it is quoted or joined', () => {
  for (const text of ['{"cvv":"737"}', 'cvv=737&x=1', 'cvv 737.', 'cvv737', 'cvv_737', 'code-737-mismatch', 'payment_failed_cvv_737', '737'])
    expect(holdsValue(text, '737')).toBe(true);
});

test("a short value inside a hash, a port number, an encoded blob or a timestamp's milliseconds is not", () => {
  for (const text of [
    'sha256 a737f0',
    'http://127.0.0.1:40737/x',
    '{"ct":"Zq9xKw737xPlmRtYvB2sQ"}',
    'token zQ-_737pRxYwTbVnMkLs',
    '{"at":"2026-12-05T12:28:02.737Z"}',
    '"responseTime":3.737,',
  ])
    expect(holdsValue(text, '737')).toBe(false);
});

test('long values are searched as they are', () => {
  expect(holdsValue(`{"ct":"${randomBytes(12).toString('base64')}4111111111111111"}`, '4111111111111111')).toBe(true);
  expect(holdsValue('4111 1111 1111 1111', '4111111111111111')).toBe(false);
});

test('random ciphertext never holds a short value by chance (the flake this rule ends)', () => {
  // ~2 MB of base64: the old rule (no hex digit either side) found "737" in nearly every such blob
  const blob = Array.from({ length: 1000 }, () => `"ct":"${randomBytes(1500).toString('base64')}"`).join(',');
  expect(holdsValue(blob, '737')).toBe(false);
});
