/** When a processor is sent a call's values (readyFor): complete and valid fields, and never before an agent's payment or a drop-in capture has ended well. */
import { parseProcessors } from '../../../src/processors';
import { readyFor } from '../../../src/processors/records';
import { field, makeSession } from '../../support/fixtures';

const [gateway] = parseProcessors(
  'processors.yaml',
  'processors:\n  - name: gateway\n    url: https://gw.example.com/charge\n    secretEnv: GW_SECRET\n    fields: [card, cvv]\n',
  { GW_SECRET: 'gateway-secret-0123456789abcdefghij' },
);
const fields = () => ({ card: field('card-number', 'vt_card'), cvv: field('security-code', 'vt_cvv') });

describe('readyFor', () => {
  it('needs every field of the processor captured, valid and in the vault', () => {
    expect(readyFor(makeSession({ fields: fields() }), gateway)).toBe(true);
    expect(readyFor(makeSession({ fields: { card: field('card-number', 'vt_card') } }), gateway)).toBe(false);
    expect(readyFor(makeSession({ fields: { ...fields(), cvv: field('security-code', undefined) } }), gateway)).toBe(false);
  });

  it("waits for an agent's payment session to complete: not while it is open, not after a cancel", () => {
    const payment = { id: 'PK1', blanket: false, fields: [], createdAt: 0 };
    expect(readyFor(makeSession({ fields: fields(), payment: { ...payment, status: 'open' } }), gateway)).toBe(false);
    expect(readyFor(makeSession({ fields: fields(), payment: { ...payment, status: 'cancelled' } }), gateway)).toBe(false);
    expect(readyFor(makeSession({ fields: fields(), payment: { ...payment, status: 'completed' } }), gateway)).toBe(true);
  });

  it('waits for a drop-in capture to return with success: not from an earlier step, not after star or a hang-up', () => {
    const dropin = { returnUrl: 'https://shop.example.com/back' };
    expect(readyFor(makeSession({ fields: fields(), dropin }), gateway)).toBe(false);
    expect(readyFor(makeSession({ fields: fields(), dropin: { ...dropin, result: 'caller-interrupted' } }), gateway)).toBe(false);
    expect(readyFor(makeSession({ fields: fields(), dropin: { ...dropin, result: 'caller-hung-up' } }), gateway)).toBe(false);
    expect(readyFor(makeSession({ fields: fields(), dropin: { ...dropin, result: 'success' } }), gateway)).toBe(true);
  });
});
