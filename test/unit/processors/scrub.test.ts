import { scrubAnswer } from '../../../src/processors/scrub';

describe('scrubAnswer', () => {
  const sent = ['4111111111111111', '1230', '737', '+15551234567', '15551234567'];

  test('masks every sent value wherever it stands in the answer', () => {
    const answer = {
      ok: true,
      message: 'card 4111111111111111 declined for +15551234567',
      nested: [{ pan: '4111111111111111', exp: '1230' }, 4111111111111111],
      '4111111111111111': 'as a key too',
    };
    const out = JSON.stringify(scrubAnswer(answer, sent));
    for (const v of ['4111111111111111', '1230', '5551234567']) expect(out).not.toContain(v);
    expect(scrubAnswer(answer, sent)).toMatchObject({ ok: true, message: 'card **************** declined for ************' });
  });

  test('a short value is masked only where it stands alone: a whole string or number, or a digit run no digit touches', () => {
    expect(scrubAnswer({ cvv: '737', code: 737, ref: 'R-7371', amount: 1737 }, sent)).toEqual({ cvv: '***', code: '***', ref: 'R-7371', amount: 1737 });
    expect(scrubAnswer({ reference: 'cvv-737-mismatch', error_code: 'cvv_737', note: 'code 737.', id: 'x7370' }, sent)).toEqual({
      reference: 'cvv-***-mismatch',
      error_code: 'cvv_***',
      note: 'code ***.',
      id: 'x7370',
    });
  });

  test('an answer that holds nothing sent comes back unchanged', () => {
    const answer = { approved: true, reference: 'ch_123', amount: 12.5, items: [null, false, 'x'] };
    expect(scrubAnswer(answer, sent)).toEqual(answer);
  });
});
