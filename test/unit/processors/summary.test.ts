/**
 * Issue 11 item 2: a processor's answer reaches agents as an allow-listed summary. Each leak the
 * outside review found (free text that echoes a value in a form the scrubber does not recognise)
 * is tried in every slot the summary has, and in the slots it does not.
 */
import { summarizeAnswer } from '../../../src/processors/summary';

const SENT = ['4111111111111111', '1230', '737', '+15551234567', '15551234567'];
const LEAKS = [
  'cvv 737 does not match',
  'cvv-737-mismatch',
  'cvv_737',
  '4111 1111 1111 1111',
  '411111******1111',
  '(555) 123-4567',
  '555-123-4567',
  '737',
  '1230',
  '4111111111111111',
];
const NINETEEN_DIGITS = '4111111111111111111';
const DIGITS_OF = (s: string) => s.replace(/\D/g, '');

describe('summarizeAnswer', () => {
  test('keeps approved, a status word, a short code and a reference', () => {
    expect(
      summarizeAnswer({ approved: true, status: 'Approved', code: 'A1B2C3', reference: 'ch_3NqXz2eZvKYlo2C1', amount: 12.5, message: 'thanks' }, SENT),
    ).toEqual({
      approved: true,
      status: 'approved',
      code: 'A1B2C3',
      reference: 'ch_3NqXz2eZvKYlo2C1',
    });
    expect(summarizeAnswer({ approved: false, declineCode: 51, id: 'txn-8F3a-21c' }, SENT)).toEqual({ approved: false, code: '51', reference: 'txn-8F3a-21c' });
  });

  test.each(LEAKS)('never passes %j, whatever slot it is put in', (leak) => {
    for (const key of ['status', 'result', 'code', 'authCode', 'reference', 'ref', 'id', 'message', 'error', 'detail']) {
      const out = summarizeAnswer({ approved: false, [key]: leak, nested: { reference: leak } }, SENT);
      expect(out).toEqual({ approved: false });
      const text = JSON.stringify(out);
      expect(text).not.toContain(leak);
      expect(DIGITS_OF(text)).toBe('');
    }
  });

  test('a 19-digit JSON number passes in no slot', () => {
    for (const key of ['code', 'reference', 'id', 'status', 'amount']) {
      const answer: unknown = JSON.parse(`{"${key}": ${NINETEEN_DIGITS}, "approved": true}`);
      expect(summarizeAnswer(answer, SENT)).toEqual({ approved: true });
    }
    expect(summarizeAnswer(JSON.parse(NINETEEN_DIGITS), SENT)).toBeUndefined();
  });

  test('a reference with a phone or card number in it, separators or not, is dropped', () => {
    for (const reference of ['txn-2026-000123', 'ref_5551234567', '4111-1111-1111-1111', 'a.555.123.4567']) {
      expect(summarizeAnswer({ approved: true, reference }, SENT)).toEqual({ approved: true });
    }
  });

  test('an answer with nothing allowed gives no summary', () => {
    expect(summarizeAnswer({ error: 'down', message: 'card 4111111111111111 declined' }, SENT)).toBeUndefined();
    expect(summarizeAnswer(['approved'], SENT)).toBeUndefined();
    expect(summarizeAnswer('approved', SENT)).toBeUndefined();
    expect(summarizeAnswer(null, SENT)).toBeUndefined();
  });
});
