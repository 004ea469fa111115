/**
 * Twilio request signatures on their own. The expected signature is computed here from Twilio's
 * published scheme (HMAC-SHA1 of the URL followed by every POST parameter, name then value,
 * names sorted; base64), not with the `twilio` package the service itself uses.
 */
import { createHmac } from 'node:crypto';
import { checkSignature, signedUrl } from '../../../src/twilio/signature';

const TOKEN = '12345678901234567890123456789012';
const URL = 'https://ivr.example.com/twilio/voice';
const params = { CallSid: 'CA' + 'a'.repeat(32), AccountSid: 'AC' + 'b'.repeat(32), From: '+15551234567', To: '+15005550006' };

function sign(token: string, url: string, p: Record<string, string>): string {
  const data =
    url +
    Object.keys(p)
      .sort()
      .map((k) => k + p[k])
      .join('');
  return createHmac('sha1', token).update(data).digest('base64');
}

describe('checkSignature', () => {
  test('a signature Twilio would have sent is accepted', () => {
    expect(checkSignature(TOKEN, sign(TOKEN, URL, params), URL, params)).toEqual({ ok: true });
  });

  test.each([
    ['absent', undefined],
    ['empty', ''],
    ['repeated', ['a', 'b']],
  ])('%s header: 400 missing', (_name, header) => {
    expect(checkSignature(TOKEN, header, URL, params)).toEqual({ ok: false, status: 400, reason: 'missing' });
  });

  test('signed with another auth token: 403 invalid', () => {
    expect(checkSignature(TOKEN, sign('x'.repeat(32), URL, params), URL, params)).toEqual({ ok: false, status: 403, reason: 'invalid' });
  });

  test('one parameter changed, added or dropped after signing: 403 invalid', () => {
    const sig = sign(TOKEN, URL, params);
    expect(checkSignature(TOKEN, sig, URL, { ...params, To: '+15005550007' })).toMatchObject({ ok: false, status: 403 });
    expect(checkSignature(TOKEN, sig, URL, { ...params, Digits: '1' })).toMatchObject({ ok: false, status: 403 });
    const { From: _dropped, ...fewer } = params;
    expect(checkSignature(TOKEN, sig, URL, fewer)).toMatchObject({ ok: false, status: 403 });
  });

  test('signed for another URL (another host, path or query): 403 invalid', () => {
    const sig = sign(TOKEN, 'https://attacker.example.com/twilio/voice', params);
    expect(checkSignature(TOKEN, sig, URL, params)).toMatchObject({ ok: false, status: 403 });
    expect(checkSignature(TOKEN, sign(TOKEN, URL + '?leg=agent', params), URL + '?leg=caller', params)).toMatchObject({ ok: false, status: 403 });
  });
});

describe('checkSignature: the URL Twilio signed', () => {
  // Twilio's signing of a URL with a port is inconsistent (the twilio package checks both
  // forms); the service checks its own URL exactly first, then the package's variants
  const withPort = 'https://ivr.example.com:8443/twilio/voice';
  const withoutPort = 'https://ivr.example.com/twilio/voice';

  test('exactly ours: accepted', () => {
    expect(checkSignature(TOKEN, sign(TOKEN, withPort, params), withPort, params)).toEqual({ ok: true });
  });

  test('ours without its port: accepted, as the twilio package accepts it', () => {
    expect(checkSignature(TOKEN, sign(TOKEN, withoutPort, params), withPort, params)).toEqual({ ok: true });
  });

  test('ours with the default port added: accepted', () => {
    expect(checkSignature(TOKEN, sign(TOKEN, 'https://ivr.example.com:443/twilio/voice', params), withoutPort, params)).toEqual({ ok: true });
  });

  test('another host, path or port: refused', () => {
    expect(checkSignature(TOKEN, sign(TOKEN, 'https://other.example.com/twilio/voice', params), withoutPort, params)).toMatchObject({ ok: false, status: 403 });
    expect(checkSignature(TOKEN, sign(TOKEN, 'https://ivr.example.com/twilio/status', params), withoutPort, params)).toMatchObject({ ok: false, status: 403 });
    expect(checkSignature(TOKEN, sign(TOKEN, 'https://ivr.example.com:9443/twilio/voice', params), withPort, params)).toMatchObject({ ok: false, status: 403 });
  });

  test('a signature of another length is refused, not compared out of bounds', () => {
    expect(checkSignature(TOKEN, sign(TOKEN, withPort, params).slice(0, 10), withPort, params)).toMatchObject({ ok: false, status: 403 });
    expect(checkSignature(TOKEN, sign(TOKEN, withPort, params) + 'AAAA', withPort, params)).toMatchObject({ ok: false, status: 403 });
  });
});

describe('signedUrl', () => {
  test('is the configured public origin and the path and query as received, whatever Host said', () => {
    expect(signedUrl('https://ivr.example.com', '/twilio/recording-status?leg=agent&call=CA1')).toBe(
      'https://ivr.example.com/twilio/recording-status?leg=agent&call=CA1',
    );
  });
});
