import fc from 'fast-check';
import { FIELD_KINDS, isFieldKind, maxLengthFor, validate, type FieldKind } from '../../../../src/fields';

const now = new Date('2025-06-15T12:00:00Z');

describe('expiry (MMYY)', () => {
  it.each([
    ['0625', 'the current month'],
    ['0725', 'next month'],
    ['1225', 'later this year'],
    ['0126', 'next year'],
    ['0645', 'exactly 20 years ahead'],
  ])('%s is valid: %s', (mmyy) => {
    expect(validate('expiry', mmyy, { now })).toEqual({ valid: true });
  });

  it.each([
    ['0525', 'past'],
    ['1224', 'past'],
    ['0600', 'past'],
    ['0745', 'future'],
    ['9912', 'month'],
    ['0025', 'month'],
    ['1325', 'month'],
    ['625', 'length'],
    ['06250', 'length'],
    ['', 'length'],
    ['06/2', 'not-digits'],
  ])('%s is refused: %s', (mmyy, reason) => {
    expect(validate('expiry', mmyy, { now })).toEqual({ valid: false, reason });
  });

  it('takes a card in its last month until that month has ended everywhere (UTC-12), not at its end in UTC', () => {
    // 23:30 on 31 May in New York is already June in UTC: the card is still valid there
    const lateMayInNewYork = new Date('2025-06-01T03:30:00Z');
    expect(validate('expiry', '0525', { now: lateMayInNewYork })).toEqual({ valid: true });
    expect(validate('expiry', '0625', { now: lateMayInNewYork })).toEqual({ valid: true });
    // 23:59 on 31 May in Pago Pago (UTC-11): May has still not ended there
    expect(validate('expiry', '0525', { now: new Date('2025-06-01T10:59:00Z') })).toEqual({ valid: true });
    // once May has ended at UTC-12 it is past everywhere
    expect(validate('expiry', '0525', { now: new Date('2025-06-01T12:00:00Z') })).toEqual({ valid: false, reason: 'past' });
    // and the year turns the same way: December 2024 on New Year's Eve in Honolulu
    expect(validate('expiry', '1224', { now: new Date('2025-01-01T09:00:00Z') })).toEqual({ valid: true });
  });

  it('reads two-digit years across a century boundary', () => {
    const late = new Date('2095-03-01T00:00:00Z');
    expect(validate('expiry', '0101', { now: late })).toEqual({ valid: true }); // 2101
    expect(validate('expiry', '0194', { now: late })).toEqual({ valid: false, reason: 'past' });
  });
});

describe('security-code', () => {
  it.each([
    ['123', undefined, true],
    ['000', 'visa', true],
    ['1234', 'amex', true],
    ['123', 'amex', false],
    ['1234', undefined, false],
    ['1234', 'mastercard', false],
    ['12', undefined, false],
  ] as const)('%s with brand %p -> %p', (code, cardBrand, ok) => {
    const result = validate('security-code', code, { now, cardBrand });
    expect(result).toEqual(ok ? { valid: true } : { valid: false, reason: 'length' });
  });

  it('refuses non-digits', () => {
    expect(validate('security-code', '12#', { now })).toEqual({ valid: false, reason: 'not-digits' });
  });
});

describe('date (DDMMYYYY)', () => {
  it.each([
    ['01011990', 'an ordinary date'],
    ['29022024', '29 Feb in a leap year'],
    ['29022000', '29 Feb in a year divisible by 400'],
    ['31122000', 'the last day of a year'],
    ['15062025', 'today'],
    ['30041980', '30 April'],
  ])('%s is valid: %s', (ddmmyyyy) => {
    expect(validate('date', ddmmyyyy, { now })).toEqual({ valid: true });
  });

  it.each([
    ['29022023', 'calendar'],
    ['29021900', 'calendar'],
    ['31042000', 'calendar'],
    ['32012000', 'calendar'],
    ['00012000', 'calendar'],
    ['01010000', 'calendar'],
    ['01132000', 'month'],
    ['01002000', 'month'],
    ['17062025', 'future'],
    ['01012026', 'future'],
    ['0101199', 'length'],
    ['010119900', 'length'],
    ['01-01-90', 'not-digits'],
  ])('%s is refused: %s', (ddmmyyyy, reason) => {
    expect(validate('date', ddmmyyyy, { now })).toEqual({ valid: false, reason });
  });

  it('takes today where the caller may be: a day is today from its start at UTC+14 on, not from its start in UTC', () => {
    // 08:00 on 16 June in Sydney is 22:00 on 15 June in UTC: the caller's today is no future date
    const sydneyMorning = new Date('2025-06-15T22:00:00Z');
    expect(validate('date', '16062025', { now: sydneyMorning })).toEqual({ valid: true });
    // 00:00 on 16 June at UTC+14 is 10:00 on 15 June in UTC: the 16th is today there from then on, not before
    expect(validate('date', '16062025', { now: new Date('2025-06-15T09:59:59Z') })).toEqual({ valid: false, reason: 'future' });
    expect(validate('date', '16062025', { now: new Date('2025-06-15T10:00:00Z') })).toEqual({ valid: true });
    // no zone has reached the 17th yet
    expect(validate('date', '17062025', { now: sydneyMorning })).toEqual({ valid: false, reason: 'future' });
    // and the year turns the same way: New Year's Day in Auckland is still 31 December in UTC
    expect(validate('date', '01012026', { now: new Date('2025-12-31T12:00:00Z') })).toEqual({ valid: true });
  });

  it('agrees with the JavaScript calendar for every day of four years', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 31 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1996, max: 2024 }), (d, m, y) => {
        const text = `${String(d).padStart(2, '0')}${String(m).padStart(2, '0')}${y}`;
        const js = new Date(Date.UTC(y, m - 1, d));
        const real = js.getUTCDate() === d && js.getUTCMonth() === m - 1;
        expect(validate('date', text, { now }).valid).toBe(real);
      }),
    );
  });
});

describe('routing-number (ABA)', () => {
  it.each([
    '011000015',
    '021000021',
    '122105155',
    '111000025',
    '026009593',
    // the US Treasury's (prefix 00), and the edges of each assigned prefix range
    '000000518',
    '120000003',
    '210000007',
    '320000007',
    '610000005',
    '720000005',
    '800000006',
  ])('%s is valid', (aba) => {
    expect(validate('routing-number', aba, { now })).toEqual({ valid: true });
  });

  it.each([
    ['021000022', 'checksum'],
    ['123456789', 'checksum'],
    ['02100002', 'length'],
    ['0210000210', 'length'],
    ['02100002a', 'not-digits'],
    // checksums that hold, under first two digits the Federal Reserve assigns to no one
    ['130000006', 'prefix'],
    ['200000004', 'prefix'],
    ['330000000', 'prefix'],
    ['600000002', 'prefix'],
    ['730000008', 'prefix'],
    ['810000009', 'prefix'],
    ['990000000', 'prefix'],
  ])('%s is refused: %s', (aba, reason) => {
    expect(validate('routing-number', aba, { now })).toEqual({ valid: false, reason });
  });

  it('changing any single digit breaks the checksum', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 9 }), (i, delta) => {
        const aba = '021000021';
        const mutated = aba.slice(0, i) + String((Number(aba[i]) + delta) % 10) + aba.slice(i + 1);
        expect(validate('routing-number', mutated, { now })).toEqual({ valid: false, reason: 'checksum' });
      }),
    );
  });
});

describe('digits', () => {
  it('accepts minLength..maxLength digits', () => {
    const ctx = { now, minLength: 6, maxLength: 10 };
    expect(validate('digits', '123456', ctx)).toEqual({ valid: true });
    expect(validate('digits', '1234567890', ctx)).toEqual({ valid: true });
    expect(validate('digits', '12345', ctx)).toEqual({ valid: false, reason: 'length' });
    expect(validate('digits', '12345678901', ctx)).toEqual({ valid: false, reason: 'length' });
    expect(validate('digits', '12345a', ctx)).toEqual({ valid: false, reason: 'not-digits' });
  });

  it('defaults to 1..32', () => {
    expect(validate('digits', '7', { now })).toEqual({ valid: true });
    expect(validate('digits', '', { now })).toEqual({ valid: false, reason: 'length' });
    expect(validate('digits', '1'.repeat(32), { now })).toEqual({ valid: true });
    expect(validate('digits', '1'.repeat(33), { now })).toEqual({ valid: false, reason: 'length' });
  });
});

describe('postal-code', () => {
  it('takes digits only, 3..10 by default, or the bounds given', () => {
    expect(validate('postal-code', '94105', { now })).toEqual({ valid: true });
    expect(validate('postal-code', '123', { now })).toEqual({ valid: true });
    expect(validate('postal-code', '12', { now })).toEqual({ valid: false, reason: 'length' });
    expect(validate('postal-code', '1'.repeat(11), { now })).toEqual({ valid: false, reason: 'length' });
    expect(validate('postal-code', '9410', { now, minLength: 5, maxLength: 5 })).toEqual({ valid: false, reason: 'length' });
    expect(validate('postal-code', '941051', { now, minLength: 5, maxLength: 5 })).toEqual({ valid: false, reason: 'length' });
    expect(validate('postal-code', '28013', { now, minLength: 5, maxLength: 5 })).toEqual({ valid: true });
    expect(validate('postal-code', '9410*', { now })).toEqual({ valid: false, reason: 'not-digits' });
  });
});

describe('validCardTypes', () => {
  it('refuses a valid card of a brand the step does not take as card-type, and keeps other reasons', () => {
    const visaOnly = { now, validCardTypes: ['visa', 'mastercard'] as const };
    expect(validate('card-number', '4111111111111111', visaOnly)).toEqual({ valid: true, brand: 'visa' });
    expect(validate('card-number', '5555555555554444', visaOnly)).toEqual({ valid: true, brand: 'mastercard' });
    expect(validate('card-number', '378282246310005', visaOnly)).toEqual({ valid: false, reason: 'card-type' });
    expect(validate('card-number', '378282246310006', visaOnly)).toEqual({ valid: false, reason: 'luhn' });
    expect(validate('card-number', '378282246310005', { now })).toEqual({ valid: true, brand: 'amex' });
  });
});

describe('maxLengthFor', () => {
  it.each([
    ['card-number', {}, 19],
    ['expiry', {}, 4],
    ['security-code', {}, 3],
    ['security-code', { cardBrand: 'visa' }, 3],
    ['security-code', { cardBrand: 'amex' }, 4],
    ['date', {}, 8],
    ['routing-number', {}, 9],
    ['digits', {}, 32],
    ['digits', { maxLength: 10 }, 10],
    ['postal-code', {}, 10],
    ['postal-code', { maxLength: 5 }, 5],
  ] as const)('%s %j -> %d', (kind, ctx, n) => {
    expect(maxLengthFor(kind, ctx)).toBe(n);
  });
});

describe('every kind', () => {
  it('knows its kinds', () => {
    expect(FIELD_KINDS).toHaveLength(7);
    expect(isFieldKind('postal-code')).toBe(true);
    expect(isFieldKind('card-number')).toBe(true);
    expect(isFieldKind('cvv')).toBe(false);
    expect(isFieldKind(undefined)).toBe(false);
  });

  it('never returns a reason that holds a digit of the input', () => {
    fc.assert(
      fc.property(fc.constantFrom<FieldKind>(...FIELD_KINDS), fc.string({ maxLength: 40 }), (kind, value) => {
        const result = validate(kind, value, { now, minLength: 4, maxLength: 12 });
        if (!result.valid) expect(result.reason).toMatch(/^[a-z-]+$/);
      }),
    );
  });

  it('refuses anything that is not all digits', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<FieldKind>(...FIELD_KINDS),
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /[^0-9]/.test(s)),
        (kind, value) => {
          expect(validate(kind, value, { now })).toEqual({ valid: false, reason: 'not-digits' });
        },
      ),
    );
  });
});
