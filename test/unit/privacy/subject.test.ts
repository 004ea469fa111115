import { createHmac, hkdfSync } from 'node:crypto';
import { FROM_FIELD } from '../../../src/twilio/opening';
import fc from 'fast-check';
import { callEvent } from '../../../src/bus';
import {
  CALLER_VAULT_FIELD,
  callerIdOf,
  isE164,
  isWithheldCallerId,
  maskedCaller,
  maskSubject,
  subjectHash,
  subjectRequest,
  WITHHELD_CALLER_IDS,
} from '../../../src/privacy';

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

describe("callerIdOf: who Twilio's From names", () => {
  test.each([
    // an E.164 number, exactly as sent
    ['+15551234567', { kind: 'phone', subject: '+15551234567' }],
    // a SIP URI whose user part is an E.164 number is that number's caller, however it reached us
    ['sip:+15551234567@trunk.example.com', { kind: 'phone', subject: '+15551234567' }],
    ['sip:+15551234567@trunk.example.com;user=phone', { kind: 'phone', subject: '+15551234567' }],
    ['SIPS:+15551234567@203.0.113.5:5061;transport=tls', { kind: 'phone', subject: '+15551234567' }],
    ['sip:+15551234567;isub=12@pbx.example.com;user=phone', { kind: 'phone', subject: '+15551234567' }],
    ['sip:+1-555-123-4567@trunk.example.com;user=phone', { kind: 'phone', subject: '+15551234567' }],
    ['sip:+1(555)123.4567@trunk.example.com', { kind: 'phone', subject: '+15551234567' }],
    // any other SIP URI: its address of record
    ['sip:alice@example.com', { kind: 'sip', subject: 'sip:alice@example.com' }],
    ['sips:Alice@Example.COM:5061;transport=tls?Subject=x', { kind: 'sip', subject: 'sip:Alice@example.com' }],
    // a number with no country code is no E.164 number: the SIP address is the subject
    ['sip:5551234567@trunk.example.com;user=phone', { kind: 'sip', subject: 'sip:5551234567@trunk.example.com' }],
    ['sip:+0123456789@trunk.example.com', { kind: 'sip', subject: 'sip:+0123456789@trunk.example.com' }],
    ['sip:pbx.example.com', { kind: 'sip', subject: 'sip:pbx.example.com' }],
    // a Twilio Client identity keeps its case; the scheme does not
    ['client:alice', { kind: 'client', subject: 'client:alice' }],
    ['Client:Alice_2', { kind: 'client', subject: 'client:Alice_2' }],
    ['client:alice@example.com', { kind: 'client', subject: 'client:alice@example.com' }],
    // a tel URI of a global number is that number (RFC 3966): separators and parameters dropped, scheme in any case
    ['tel:+15551234567', { kind: 'phone', subject: '+15551234567' }],
    ['tel:+1-555-123-4567', { kind: 'phone', subject: '+15551234567' }],
    ['TEL:+1(555)123.4567;ext=12;isub=9;phone-context=x', { kind: 'phone', subject: '+15551234567' }],
    ['tel:+44-20-7946-0000;ext=1%2A', { kind: 'phone', subject: '+442079460000' }],
    // a global number written with spaces or visual separators (E.123) is that number
    ['+1 555 123 4567', { kind: 'phone', subject: '+15551234567' }],
    ['+1 (555) 123-4567', { kind: 'phone', subject: '+15551234567' }],
    ['+1-555-123-4567', { kind: 'phone', subject: '+15551234567' }],
    ['+44 20 7946 0000', { kind: 'phone', subject: '+442079460000' }],
    ['+1.555.123.4567', { kind: 'phone', subject: '+15551234567' }],
    // any other caller ID: kept as sent, its own canonical form
    ['15551234567', { kind: 'other', subject: '15551234567' }],
    [' +15551234567', { kind: 'other', subject: ' +15551234567' }],
    ['+12345', { kind: 'other', subject: '+12345' }],
    ['tel:5551234;phone-context=example.com', { kind: 'other', subject: 'tel:5551234;phone-context=example.com' }],
    ['tel:+0123456789', { kind: 'other', subject: 'tel:+0123456789' }],
    ['tel:+1-555-CALL-NOW', { kind: 'other', subject: 'tel:+1-555-CALL-NOW' }],
    ['+1 555 CALL NOW', { kind: 'other', subject: '+1 555 CALL NOW' }],
    ['+ 1 555 123 4567', { kind: 'other', subject: '+ 1 555 123 4567' }],
    ['+0 555 123 4567', { kind: 'other', subject: '+0 555 123 4567' }],
    ['mailto:alice@example.com', { kind: 'other', subject: 'mailto:alice@example.com' }],
    ['Alice Q', { kind: 'other', subject: 'Alice Q' }],
    // a SIP URI or Client identity not well formed: no request could name it (400), so filed under nothing
    ['client:', { kind: 'unreadable', scheme: 'client' }],
    ['client:ali ce', { kind: 'unreadable', scheme: 'client' }],
    ['sip:alice@', { kind: 'unreadable', scheme: 'sip' }],
    ['SIPS:a@b@c', { kind: 'unreadable', scheme: 'sip' }],
    // nor is text no caller ID could be
    ['x'.repeat(257), { kind: 'unreadable' }],
    ['alice\nbob', { kind: 'unreadable' }],
  ])('%p', (from, id) => {
    expect(callerIdOf(from)).toEqual(id);
  });

  test.each([
    ...WITHHELD_CALLER_IDS,
    'anonymous',
    '',
    // Twilio's identity for a Client that has none: every such caller's
    'client:Anonymous',
    'client:anonymous',
    // RFC 3323's anonymous URI, and a withheld word or placeholder as a SIP user part, at any host
    'sip:anonymous@anonymous.invalid',
    'sip:someone@anonymous.invalid',
    'sip:Anonymous@trunk.example.com',
    'sip:unknown@203.0.113.5;user=phone',
    'sip:+266696687@trunk.example.com',
    'sip:+266-696-687@trunk.example.com;user=phone',
    // a placeholder as a tel URI
    'tel:+266-696-687',
    // or written with separators
    '+266 696 687',
  ])('withheld: %p', (from) => {
    expect(callerIdOf(from)).toEqual({ kind: 'withheld' });
    expect(isWithheldCallerId(from)).toBe(true);
  });

  test('a canonical subject reads back as itself', () => {
    for (const from of [
      '+15551234567',
      'sip:+15551234567@t.example.com;user=phone',
      'SIPS:Alice@Example.com:5061',
      'Client:Bob',
      'sip:b@[::1]:5060',
      'tel:+1-555-123-4567;ext=2',
      '15551234567',
      'tel:5551234;phone-context=example.com',
    ]) {
      const id = callerIdOf(from);
      if (!('subject' in id)) throw new Error('no subject');
      expect(callerIdOf(id.subject)).toEqual(id);
      expect(subjectRequest(id.subject)).toEqual({ subject: id.subject });
    }
  });
});

describe('subjectRequest: what the subject routes take', () => {
  test.each([
    ['+15551234567', '+15551234567'],
    ['+447700900123', '+447700900123'],
    // a SIP URI as Twilio sent it, or canonical: the caller its calls are filed under
    ['sip:+15551234567@trunk.example.com;user=phone', '+15551234567'],
    ['sip:+15551234567@another-trunk.example.net', '+15551234567'],
    ['sip:alice@example.com', 'sip:alice@example.com'],
    ['SIP:alice@EXAMPLE.com:5060;transport=tcp', 'sip:alice@example.com'],
    ['sips:alice@example.com', 'sip:alice@example.com'],
    ['client:alice', 'client:alice'],
    ['CLIENT:alice', 'client:alice'],
    // a tel URI of a global number: the number
    ['tel:+15551234567', '+15551234567'],
    ['tel:+1-555-123-4567;ext=99', '+15551234567'],
    // any other caller ID, as Twilio sent it
    ['15551234567', '15551234567'],
    ['+12', '+12'],
    // a number written with spaces or separators: the number
    ['+1 555 123 4567', '+15551234567'],
    ['+1555 123', '+1555123'],
    ['tel:5551234;phone-context=example.com', 'tel:5551234;phone-context=example.com'],
    ['mailto:alice@example.com', 'mailto:alice@example.com'],
  ])('%p is the subject %p', (param, subject) => {
    expect(subjectRequest(param)).toEqual({ subject });
  });

  test('every caller filed under a subject can be named by it: the request reads as the From did', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^(tel|sip|client):[-+.()0-9a-z@;=]{0,20}$/)), (from) => {
        const id = callerIdOf(from);
        if ('subject' in id) expect(subjectRequest(id.subject)).toEqual({ subject: id.subject });
        else expect(subjectRequest(from)).toEqual({ refused: id.kind === 'withheld' ? 'withheld' : 'malformed' });
      }),
    );
  });

  test('an E.164 number is taken byte for byte, as it always was', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\+[1-9][0-9]{6,14}$/), (n) => {
        fc.pre(!WITHHELD_CALLER_IDS.includes(n));
        expect(subjectRequest(n)).toEqual({ subject: n });
        expect(subjectHash('k', n)).toBe(createHmac('sha256', 'k').update(n).digest('hex'));
      }),
    );
  });

  test.each(['sip:', 'sip:alice@', 'sip:@example.com', 'sip:a@b@c', 'SIPS:a@example.com:99999', 'client:', 'client:a b', 'x'.repeat(257), 'a\u0000b'])(
    'malformed: %p',
    (param) => {
      expect(subjectRequest(param)).toEqual({ refused: 'malformed' });
    },
  );

  test.each([
    ...WITHHELD_CALLER_IDS,
    'anonymous',
    '',
    'tel:+266696687',
    'client:Anonymous',
    'sip:anonymous@anonymous.invalid',
    'sip:+266696687@trunk.example.com',
  ])('withheld: %p', (param) => {
    expect(subjectRequest(param)).toEqual({ refused: 'withheld' });
  });
});

describe('maskedCaller: what agents, access reports and receipts show', () => {
  test.each([
    ['+15551234567', '+*******4567'],
    ['sip:+15551234567@trunk.example.com;user=phone', '+*******4567'],
    ['sip:alice@Example.com:5060;transport=tls', 'sip:****@example.com'],
    ['sip:5551234567@trunk.example.com', 'sip:****@trunk.example.com'],
    // a host that is an address may be the caller's own device: not shown; nor a bare host (all there is)
    ['sip:alice@203.0.113.5', 'sip:****'],
    ['sip:alice@[2001:db8::1]', 'sip:****'],
    ['sip:pbx.example.com', 'sip:****'],
    ['client:alice', 'client:****'],
    ['client:Anonymous', 'withheld'],
    ['anonymous', 'withheld'],
    ['tel:+1-555-123-4567', '+*******4567'],
    // as maskPhone always showed what is none of these
    ['15551234567', '*******4567'],
    ['tel:5551234;phone-context=example.com', '*************com'],
    // an unreadable caller: its scheme at most
    ['sip:alice@', 'sip:****'],
    ['client:ali ce', 'client:****'],
    ['x'.repeat(300), '****'],
  ])('%p -> %p', (from, masked) => {
    expect(maskedCaller(callerIdOf(from))).toBe(masked);
    expect(callEvent.safeParse({ type: 'handoff.offered', callSid: 'CA' + '1'.repeat(32), from: masked, fields: {} }).success).toBe(true);
  });

  test('maskSubject masks a canonical subject as its caller is shown', () => {
    expect(maskSubject('+15551234567')).toBe('+*******4567');
    expect(maskSubject('sip:alice@example.com')).toBe('sip:****@example.com');
    expect(maskSubject('client:alice')).toBe('client:****');
  });

  test('no character of a SIP user part or a Client name is ever shown, whatever it is', () => {
    const user = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{3,20}$/);
    fc.assert(
      fc.property(user, (name) => {
        for (const from of [`client:${name}`, `sip:${name}@pbx.example.com`, `sip:${name}@203.0.113.5;transport=udp`]) {
          const masked = maskedCaller(callerIdOf(from));
          // all before the host is the scheme and four '*', whatever the name's length
          expect(masked.replace(/@.*$/, '')).toMatch(/^(client|sip):\*{4}$/);
        }
      }),
    );
  });

  test('the bus refuses a caller shown whole', () => {
    for (const from of ['client:alice', 'sip:alice@example.com', 'sip:****@Example.com:5060', 'client:***a']) {
      expect(callEvent.safeParse({ type: 'handoff.offered', callSid: 'CA' + '1'.repeat(32), from, fields: {} }).success).toBe(false);
    }
  });
});
