/**
 * The one way a collected field is written (IVR and capture alike): what a valid and a failed
 * value show, and that a failure never replaces a valid field.
 */
import { fieldState, validate, writeField, type FieldHolder } from '../../../src/fields';

const now = new Date('2026-06-01T00:00:00Z');
const meta = { source: 'capture' as const, at: now.getTime() };

describe('fieldState', () => {
  it('shows a valid card as its masked form, last 4 and brand, with its vault token', () => {
    const digits = '4111111111111111';
    expect(fieldState({ kind: 'card-number', digits, result: validate('card-number', digits, { now }), token: 'tok' }, meta)).toEqual({
      kind: 'card-number',
      masked: '************1111',
      last4: '1111',
      brand: 'visa',
      valid: true,
      token: 'tok',
      ...meta,
    });
  });

  it.each([
    ['card-number', '4111111111111737', 'luhn'],
    ['card-number', '5555555555554443', 'luhn'],
    ['card-number', '41111', 'length'],
    ['expiry', '1399', 'month'],
    ['security-code', '12', 'length'],
  ] as const)('shows a failed %s as all *, with no last4 and no brand (%s)', (kind, digits, reason) => {
    const f = fieldState({ kind, digits, result: validate(kind, digits, { now }) }, meta);
    expect(f).toEqual({ kind, masked: '*'.repeat(digits.length), valid: false, reason, ...meta });
  });

  it('shows a failure with no value (a refused pause) as empty', () => {
    expect(fieldState({ kind: 'card-number', failed: 'recording-pause-failed' }, meta)).toMatchObject({
      masked: '',
      valid: false,
      reason: 'recording-pause-failed',
    });
  });
});

describe('writeField', () => {
  it('keeps a valid field when a failed value for it comes later, and sets the brand from a valid card', () => {
    const holder: FieldHolder = { fields: {} };
    const good = fieldState({ kind: 'card-number', digits: '378282246310005', result: validate('card-number', '378282246310005', { now }) }, meta);
    expect(writeField(holder, 'card', good)).toBe(true);
    expect(holder.cardBrand).toBe('amex');
    const bad = fieldState({ kind: 'card-number', digits: '4111111111111112', result: validate('card-number', '4111111111111112', { now }) }, meta);
    expect(writeField(holder, 'card', bad)).toBe(false);
    expect(holder.fields.card).toBe(good);
    expect(holder.cardBrand).toBe('amex');
    // a failed field may be replaced, by a failure or by a valid value
    expect(writeField(holder, 'cvv', fieldState({ kind: 'security-code', failed: 'no-input' }, meta))).toBe(true);
    expect(
      writeField(
        holder,
        'cvv',
        fieldState({ kind: 'security-code', digits: '1234', result: validate('security-code', '1234', { now, cardBrand: 'amex' }) }, meta),
      ),
    ).toBe(true);
    expect(holder.fields.cvv).toMatchObject({ valid: true, masked: '****' });
  });
});
