/** A SIP URI read as its address of record (privacy/sip-uri.ts): what identifies the caller kept, how their call reached us dropped. */
import { isIpHost, parseSipUri, sipAddressText } from '../../../src/privacy/sip-uri';

describe('parseSipUri', () => {
  test.each([
    ['sip:alice@example.com', { user: 'alice', host: 'example.com' }],
    // scheme and host without case, port, URI parameters and headers dropped
    ['SIP:alice@Example.COM', { user: 'alice', host: 'example.com' }],
    ['sips:alice@example.com:5061;transport=tls', { user: 'alice', host: 'example.com' }],
    ['sip:alice@example.com;transport=udp;lr?Subject=hi&Priority=urgent', { user: 'alice', host: 'example.com' }],
    ['sip:+15551234567@trunk.example.com;user=phone', { user: '+15551234567', host: 'trunk.example.com' }],
    ['sip:+15551234567@203.0.113.5:5060', { user: '+15551234567', host: '203.0.113.5' }],
    ['sip:bob@[2001:DB8::1]:5060', { user: 'bob', host: '[2001:db8::1]' }],
    // the user part keeps its case and its own parameters; a password is never kept
    ['sip:Alice@example.com', { user: 'Alice', host: 'example.com' }],
    ['sip:5551234;phone-context=example.com@pbx.example.com', { user: '5551234;phone-context=example.com', host: 'pbx.example.com' }],
    ['sip:alice:secret@example.com', { user: 'alice', host: 'example.com' }],
    // escapes: an unreserved character is itself, any other escape keeps upper-case hex
    ['sip:%61lice@example.com', { user: 'alice', host: 'example.com' }],
    ['sip:al%2bice%20x@example.com', { user: 'al%2Bice%20x', host: 'example.com' }],
    // a final dot names the same host
    ['sip:alice@example.com.', { user: 'alice', host: 'example.com' }],
    ['sip:pbx.example.com', { host: 'pbx.example.com' }],
  ])('%s', (text, address) => {
    expect(parseSipUri(text)).toEqual(address);
  });

  test.each([
    ['not a SIP URI', 'client:alice'],
    ['not a SIP URI', 'tel:+15551234567'],
    ['not a SIP URI', 'alice@example.com'],
    ['no host', 'sip:alice@'],
    ['no host', 'sip:'],
    ['an empty user part', 'sip:@example.com'],
    ['two @', 'sip:alice@bob@example.com'],
    ['a space', 'sip:ali ce@example.com'],
    ['markup', 'sip:<alice>@example.com'],
    ['a bad escape', 'sip:al%zzice@example.com'],
    ['a host with an underscore', 'sip:alice@exa_mple.com'],
    ['a host label ending in a hyphen', 'sip:alice@example-.com'],
    ['a port out of range', 'sip:alice@example.com:65536'],
    ['a port that is not a number', 'sip:alice@example.com:http'],
    ['a parameter with a space', 'sip:alice@example.com;transport=u dp'],
    ['a display name around it', '"Alice" <sip:alice@example.com>'],
    ['too long', `sip:${'a'.repeat(250)}@example.com`],
  ])('%s: %p is not one', (_why, text) => {
    expect(parseSipUri(text)).toBeNull();
  });

  test('its canonical text reads back as itself', () => {
    for (const text of ['sips:Alice@Example.com:5061;transport=tls', 'sip:+15551234567@trunk.example.com;user=phone', 'sip:pbx.example.com', 'sip:b@[::1]']) {
      const a = parseSipUri(text)!;
      expect(parseSipUri(sipAddressText(a))).toEqual(a);
    }
    expect(sipAddressText({ user: 'Alice', host: 'example.com' })).toBe('sip:Alice@example.com');
    expect(sipAddressText({ host: 'pbx.example.com' })).toBe('sip:pbx.example.com');
  });

  test('isIpHost: an IPv4 or IPv6 address, not a name', () => {
    for (const host of ['203.0.113.5', '[2001:db8::1]']) expect(isIpHost(host)).toBe(true);
    for (const host of ['example.com', 'pbx1.example.com', 'localhost']) expect(isIpHost(host)).toBe(false);
  });
});
