import fc from 'fast-check';
import { cardBrand, luhnCheckDigit, luhnValid, validate, type CardBrand } from '../../../../src/fields';

const ctx = { now: new Date('2025-06-15T12:00:00Z') };

/** A Luhn-valid number: `payload` followed by its check digit, so only the tested rule fails. */
const withCheck = (payload: string): string => payload + luhnCheckDigit(payload);

describe('card-number: published test numbers', () => {
  const table: ReadonlyArray<[string, CardBrand]> = [
    ['4111111111111111', 'visa'],
    ['4012888888881881', 'visa'],
    ['4222222222222', 'visa'],
    ['4000000000000000006', 'visa'],
    ['5555555555554444', 'mastercard'],
    ['5105105105105100', 'mastercard'],
    ['2223003122003222', 'mastercard'],
    ['2720990000000007', 'mastercard'],
    ['378282246310005', 'amex'],
    ['371449635398431', 'amex'],
    ['340000000000009', 'amex'],
    ['6011111111111117', 'discover'],
    ['6011000990139424', 'discover'],
    ['6445644564456445', 'discover'],
    ['6500000000000002', 'discover'],
    ['6221260000000000', 'discover'],
    ['3566002020360505', 'jcb'],
    ['3530111333300000', 'jcb'],
    ['30569309025904', 'diners'],
    ['36227206271667', 'diners'],
    ['38520000023237', 'diners'],
    // Diners Club International's 3095 range (with 300-305, 36 and 38-39)
    [withCheck('3095000000000'), 'diners'],
    [withCheck('309500000000000'), 'diners'],
    ['6200000000000005', 'unionpay'],
    ['6229260000000002', 'unionpay'],
    ['8171999927660000', 'unionpay'],
    ['6759649826438453', 'maestro'],
    ['6304000000000000', 'maestro'],
    ['5018000000000009', 'maestro'],
    [withCheck('67677000000000000'), 'maestro'],
    ['501800000009', 'maestro'],
  ];

  it.each(table)('%s is a valid %s', (pan, brand) => {
    expect(luhnValid(pan)).toBe(true);
    expect(cardBrand(pan)).toBe(brand);
    expect(validate('card-number', pan, ctx)).toEqual({ valid: true, brand });
  });
});

describe('card-number: refused', () => {
  const table: ReadonlyArray<[string, string, string]> = [
    ['Luhn off by one', '4111111111111112', 'luhn'],
    ['Amex Luhn broken', '378282246310006', 'luhn'],
    ['too short for any card', '41111111111', 'length'],
    ['too long for any card', withCheck('4111111111111111111'), 'length'],
    ['empty', '', 'length'],
    ['spaces', '4111 1111 1111 1111', 'not-digits'],
    ['star key', '4111*11111111111', 'not-digits'],
    ['unknown IIN (9)', withCheck('911111111111111'), 'brand'],
    ['unknown IIN (1)', withCheck('100000000000000'), 'brand'],
    ['all zeros passes Luhn but has no brand', '000000000000', 'brand'],
    ['visa of 15 digits', withCheck('41111111111111'), 'length'],
    ['visa of 14 digits', withCheck('4111111111111'), 'length'],
    ['mastercard of 19 digits', withCheck('555555555555555555'), 'length'],
    ['amex of 16 digits', withCheck('378282246310005'), 'length'],
    ['discover of 15 digits', withCheck('60111111111111'), 'length'],
    ['diners of 13 digits', withCheck('305693090259'), 'length'],
    ['unionpay of 15 digits', withCheck('62000000000000'), 'length'],
  ];

  it.each(table)('%s', (_label, pan, reason) => {
    expect(validate('card-number', pan, ctx)).toEqual({ valid: false, reason });
  });

  it('never puts any digit in the reason', () => {
    for (const pan of ['4111111111111112', withCheck('911111111111111'), '41111111111']) {
      const result = validate('card-number', pan, ctx);
      expect(result.valid).toBe(false);
      expect(JSON.stringify(result)).not.toMatch(/[0-9]/);
    }
  });
});

describe('cardBrand: range edges and overlaps', () => {
  const table: ReadonlyArray<[string, CardBrand | undefined]> = [
    ['4', 'visa'],
    ['50', 'maestro'],
    ['51', 'mastercard'],
    ['55', 'mastercard'],
    ['56', 'maestro'],
    ['58', 'maestro'],
    ['59', undefined],
    ['2220', undefined],
    ['2221', 'mastercard'],
    ['2720', 'mastercard'],
    ['2721', undefined],
    ['34', 'amex'],
    ['35', undefined],
    ['3527', undefined],
    ['3528', 'jcb'],
    ['3589', 'jcb'],
    ['3590', undefined],
    ['37', 'amex'],
    ['300', 'diners'],
    ['305', 'diners'],
    ['306', undefined],
    ['3094', undefined],
    ['3095', 'diners'],
    ['3096', undefined],
    ['36', 'diners'],
    ['38', 'diners'],
    ['39', 'diners'],
    ['6011', 'discover'],
    ['6012', undefined],
    ['643', undefined],
    ['644', 'discover'],
    ['649', 'discover'],
    ['65', 'discover'],
    // 62 is UnionPay, except Discover's co-branded 622126-622925.
    ['62', 'unionpay'],
    ['622125', 'unionpay'],
    ['622126', 'discover'],
    ['622925', 'discover'],
    ['622926', 'unionpay'],
    ['81', 'unionpay'],
    ['6304', 'maestro'],
    ['6759', 'maestro'],
    ['6761', 'maestro'],
    ['6763', 'maestro'],
    ['67', 'maestro'],
    ['', undefined],
    ['4x', undefined],
  ];

  it.each(table)('%p -> %p', (prefix, brand) => {
    expect(cardBrand(prefix)).toBe(brand);
  });

  it('needs the full 6 digits before calling a 6-digit range (partial 6221 is still unionpay)', () => {
    expect(cardBrand('6221')).toBe('unionpay');
    expect(cardBrand('622126')).toBe('discover');
  });
});

describe('Luhn properties', () => {
  const payload = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 30 });

  it('appending the computed check digit always validates', () => {
    fc.assert(
      fc.property(payload, (p) => {
        expect(luhnValid(p + luhnCheckDigit(p))).toBe(true);
      }),
    );
  });

  it('changing any single digit always invalidates', () => {
    fc.assert(
      fc.property(payload, fc.nat(), fc.integer({ min: 1, max: 9 }), (p, at, delta) => {
        const valid = p + luhnCheckDigit(p);
        const i = at % valid.length;
        const changed = String((Number(valid[i]) + delta) % 10);
        const mutated = valid.slice(0, i) + changed + valid.slice(i + 1);
        expect(luhnValid(mutated)).toBe(false);
      }),
    );
  });

  it('exactly one check digit validates', () => {
    fc.assert(
      fc.property(payload, (p) => {
        const ok = [...'0123456789'].filter((d) => luhnValid(p + d));
        expect(ok).toEqual([luhnCheckDigit(p)]);
      }),
    );
  });

  it('refuses empty and non-digit input', () => {
    expect(luhnValid('')).toBe(false);
    expect(luhnValid('4111-1111')).toBe(false);
    expect(() => luhnCheckDigit('12a')).toThrow(TypeError);
  });
});
