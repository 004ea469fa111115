import fc from 'fast-check';
import { maskField, maskPhone, maskProgress, maskValue, validate } from '../../../src/fields';

describe('maskValue', () => {
  it('shows a card as one * per hidden digit, its last 4 and its brand', () => {
    expect(maskValue('card-number', '4111111111111111')).toEqual({
      masked: '************1111',
      last4: '1111',
      brand: 'visa',
    });
    expect(maskValue('card-number', '378282246310005')).toEqual({ masked: '***********0005', last4: '0005', brand: 'amex' });
    expect(maskValue('card-number', '5555555555554444', 'mastercard').brand).toBe('mastercard');
  });

  it('takes the brand it is given over the one it would derive', () => {
    expect(maskValue('card-number', '6221260000000000', 'unionpay').brand).toBe('unionpay');
  });

  it('shows no digit of a card shorter than any real card', () => {
    expect(maskValue('card-number', '41111111111')).toEqual({ masked: '***********', brand: 'visa' });
    expect(maskValue('card-number', '1234')).toEqual({ masked: '****' });
    expect(maskValue('card-number', '')).toEqual({ masked: '' });
  });

  it.each([
    ['expiry', '0627'],
    ['security-code', '123'],
    ['security-code', '1234'],
    ['date', '01011990'],
    ['routing-number', '021000021'],
    ['digits', '12345678'],
    ['postal-code', '94105'],
  ] as const)('shows %s as all *', (kind, digits) => {
    expect(maskValue(kind, digits)).toEqual({ masked: '*'.repeat(digits.length) });
  });

  it('never shows more than the last 4 digits of any value', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('digits', 'card-number', 'expiry', 'security-code', 'date', 'routing-number', 'postal-code' as const),
        fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 19 }),
        (kind, digits) => {
          const { masked, last4 } = maskValue(kind, digits);
          expect(masked).toHaveLength(digits.length);
          const shown = masked.replace(/^\**/, '');
          expect(shown.length).toBeLessThanOrEqual(4);
          expect(digits.endsWith(shown)).toBe(true);
          if (last4 !== undefined) expect(shown).toBe(last4);
        },
      ),
    );
  });
});

describe('maskField', () => {
  const now = new Date('2025-06-15T00:00:00Z');

  it('builds the record view from a validation result', () => {
    const card = '4111111111111111';
    expect(maskField('card-number', card, validate('card-number', card, { now }))).toEqual({
      kind: 'card-number',
      masked: '************1111',
      last4: '1111',
      brand: 'visa',
      valid: true,
    });
    expect(maskField('expiry', '0124', validate('expiry', '0124', { now }))).toEqual({
      kind: 'expiry',
      masked: '****',
      valid: false,
    });
  });
});

describe('maskProgress', () => {
  it('is all * while keying', () => {
    expect(maskProgress('411111')).toBe('******');
    expect(maskProgress('')).toBe('');
  });
});

describe('maskPhone', () => {
  it.each([
    ['+15551234567', '+*******4567'],
    ['+442071838750', '+********8750'],
    ['+861012345678', '+********5678'],
    ['+1234567', '+***4567'],
    ['+123456789012345', '+***********2345'],
  ])('%s -> %s', (phone, masked) => {
    expect(maskPhone(phone)).toBe(masked);
  });

  it.each([
    ['anonymous', '*****mous'],
    ['client:alice', '********lice'],
    ['sip:bob@example.com', '*************com'],
    ['5551234567', '******4567'],
    ['+1 555 123 4567', '***********4567'],
    ['+12345', '+*****'],
    ['+1', '+*'],
    ['abcd', '****'],
    ['', ''],
    ['<script>alert(1)</script>', '************ipt*'],
    ['a\u0000\u001b[31m\n', '****31m*'],
  ])('%p -> %p', (text, masked) => {
    expect(maskPhone(text)).toBe(masked);
  });

  it('never shows more than the last 4 characters of anything, nor any but letters and digits', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^\+[1-9][0-9]{6,14}$/)), (text) => {
        const masked = maskPhone(text);
        expect(masked.length).toBeLessThanOrEqual(16);
        const shown = Array.from(masked.replace(/^\+/, '')).slice(-4);
        const tail = Array.from(text).slice(-shown.length);
        shown.forEach((c, i) => {
          if (c !== '*') {
            expect(c).toMatch(/^[A-Za-z0-9]$/);
            expect(c).toBe(tail[i]);
          }
        });
        expect(masked.replace(/^\+/, '').slice(0, -4)).toMatch(/^\**$/);
      }),
    );
  });
});
