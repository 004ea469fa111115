/** The Generic Pay Connector mapping: which field fills which connector field, the request, the answer. */
import type { FieldKind } from '../../../src/fields';
import type { GenericPaySettings } from '../../../src/processors/config';
import { connectorRequest, readConnectorAnswer, resolveRoles, transactionId } from '../../../src/processors/generic-pay';

const kinds = (m: Record<string, FieldKind>) => Object.fromEntries(Object.entries(m).map(([k, kind]) => [k, { kind }]));
const CARD = { card: 'card-number', exp: 'expiry', code: 'security-code' } as const;

describe('resolveRoles', () => {
  test('finds the card number, expiry and security code by kind', () => {
    expect(resolveRoles(['card', 'exp', 'code'], kinds(CARD), {})).toEqual({ cardnumber: 'card', expiry: 'exp', cvv: 'code' });
    // the security code is optional, as <Pay securityCode="false">
    expect(resolveRoles(['card', 'exp'], kinds(CARD), {})).toEqual({ cardnumber: 'card', expiry: 'exp' });
  });

  test('a digits field is a postal code only when the file says so', () => {
    const states = kinds({ ...CARD, zip: 'digits' });
    expect(resolveRoles(['card', 'exp', 'zip'], states, {})).toEqual({ cardnumber: 'card', expiry: 'exp' });
    expect(resolveRoles(['card', 'exp', 'zip'], states, { postal_code: 'zip' })).toEqual({ cardnumber: 'card', expiry: 'exp', postal_code: 'zip' });
  });

  test('a postal-code field is the postal code, found by kind or named', () => {
    const states = kinds({ ...CARD, postal: 'postal-code' });
    expect(resolveRoles(['card', 'exp', 'postal'], states, {})).toEqual({ cardnumber: 'card', expiry: 'exp', postal_code: 'postal' });
    expect(resolveRoles(['card', 'exp', 'postal'], states, { postal_code: 'postal' })).toEqual({ cardnumber: 'card', expiry: 'exp', postal_code: 'postal' });
  });

  test('a named field wins over kind, and settles which of two cards is sent', () => {
    const states = kinds({ ...CARD, card2: 'card-number' });
    expect(resolveRoles(['card', 'card2', 'exp'], states, {})).toBeNull();
    expect(resolveRoles(['card', 'card2', 'exp'], states, { cardnumber: 'card2' })).toEqual({ cardnumber: 'card2', expiry: 'exp' });
  });

  test('refuses a missing card number or expiry, and a named field of the wrong kind', () => {
    expect(resolveRoles(['card', 'code'], kinds(CARD), {})).toBeNull();
    expect(resolveRoles(['exp', 'code'], kinds(CARD), {})).toBeNull();
    expect(resolveRoles(['card', 'exp', 'code'], kinds(CARD), { cvv: 'exp' })).toBeNull();
    expect(resolveRoles(['card', 'exp', 'acct'], kinds({ ...CARD, acct: 'digits' }), { cardnumber: 'acct' })).toBeNull();
    // a field the call never captured has no kind
    expect(resolveRoles(['card', 'exp'], kinds({ card: 'card-number' }), {})).toBeNull();
  });
});

describe('connectorRequest', () => {
  const charge: GenericPaySettings = {
    method: 'charge',
    amount: '10.00',
    currency: 'USD',
    description: 'Bill',
    parameters: { merchant: 'm1' },
    connectorFields: {},
  };
  const tokenize: GenericPaySettings = { method: 'tokenize', tokenType: 'reusable', connectorFields: {} };

  test('a charge carries amount and currency_code, the expiry split as keyed', () => {
    const body = connectorRequest(charge, 'txn', { cardnumber: '4111111111111111', expiry: '0830', cvv: '123', postal_code: '94105' });
    expect(body).toEqual({
      transaction_id: 'txn',
      cardnumber: '4111111111111111',
      cvv: '123',
      expiry_month: '08',
      expiry_year: '30',
      description: 'Bill',
      amount: '10.00',
      currency_code: 'USD',
      postal_code: '94105',
      method: 'charge',
      parameters: { merchant: 'm1' },
    });
  });

  test('a tokenize carries token_type and no amount; absent values are left out', () => {
    expect(connectorRequest(tokenize, 'txn', { cardnumber: '4111111111111111', expiry: '1230' })).toEqual({
      transaction_id: 'txn',
      cardnumber: '4111111111111111',
      expiry_month: '12',
      expiry_year: '30',
      method: 'tokenize',
      token_type: 'reusable',
    });
  });
});

test('transactionId is a stable UUID per call and processor that names neither', () => {
  const a = transactionId('CA1', 'gateway');
  expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(transactionId('CA1', 'gateway')).toBe(a);
  expect(transactionId('CA2', 'gateway')).not.toBe(a);
  expect(transactionId('CA1', 'other')).not.toBe(a);
  expect(a).not.toContain('CA1');
});

describe('readConnectorAnswer', () => {
  const PAN = '4111111111111111';
  const sent = [PAN, '1230', '737'];

  test('a charge_id or token_id approves; the id is the reference or the token', () => {
    expect(readConnectorAnswer({ charge_id: 'ch_1Nx', error_code: null, error_message: null }, 'charge', sent)).toEqual({
      kind: 'approved',
      summary: { approved: true, status: 'charged', reference: 'ch_1Nx' },
    });
    const uuid = '72500aba-328c-445c-a12e-da5700e10b17';
    expect(readConnectorAnswer({ token_id: uuid, error_code: null, error_message: null }, 'tokenize', sent)).toEqual({
      kind: 'approved',
      summary: { approved: true, status: 'tokenized', token: uuid },
    });
  });

  test('an error_code declines; error_message is never kept, a code that could hold a value is dropped', () => {
    const declined = readConnectorAnswer({ charge_id: null, error_code: 'card_declined', error_message: `card ${PAN} declined` }, 'charge', sent);
    expect(declined).toEqual({ kind: 'declined', summary: { approved: false, status: 'declined', code: 'card_declined' } });
    expect(JSON.stringify(declined)).not.toContain(PAN);
    expect(readConnectorAnswer({ charge_id: null, error_code: 51, error_message: 'x' }, 'charge', sent)).toEqual({
      kind: 'declined',
      summary: { approved: false, status: 'declined', code: '51' },
    });
    for (const code of ['737', 'cvv 737', '5551234567', 'x'.repeat(40)]) {
      expect(readConnectorAnswer({ charge_id: null, error_code: code }, 'charge', sent)).toEqual({
        kind: 'declined',
        summary: { approved: false, status: 'declined' },
      });
    }
  });

  test('an id that holds a sent value or a card-length run of digits is not shown, but still approves', () => {
    for (const id of [`tok_${PAN}`, '4000-0566-5566-5556', 'pay_1230x', '5105105105105100']) {
      expect(readConnectorAnswer({ token_id: id, error_code: null }, 'tokenize', sent)).toEqual({
        kind: 'approved',
        summary: { approved: true, status: 'tokenized' },
      });
    }
  });

  test('anything else is malformed', () => {
    for (const answer of [undefined, null, 'ok', [], {}, { charge_id: '' }, { error_code: { x: 1 } }, { charge_id: 12 }]) {
      expect(readConnectorAnswer(answer, 'charge', sent)).toEqual({ kind: 'malformed' });
    }
    // the id under the other method's key is not the connector's answer
    expect(readConnectorAnswer({ token_id: 'tok_1', error_code: null }, 'charge', sent)).toEqual({ kind: 'malformed' });
    expect(readConnectorAnswer({ charge_id: 'ch_1', error_code: null }, 'tokenize', sent)).toEqual({ kind: 'malformed' });
  });
});
