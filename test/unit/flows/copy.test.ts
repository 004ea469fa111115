import { copySession } from '../../../src/flows/copy';

describe('copySession', () => {
  test('a deep copy of JSON data with keys left undefined, as structuredClone made it, sharing nothing', () => {
    const s = {
      callSid: 'CA1',
      step: 2,
      live: true,
      none: null,
      pendingMatch: undefined,
      recording: { status: 'paused', sids: ['RE1', 'RE2'], resumeFailed: { lateUntil: 0 } },
      fields: { card: { kind: 'card-number', valid: true, token: 'vt_x', masked: '•••• 1111' } },
      processorResults: [{ id: 'p', outcome: 'ok', nested: [[1, 2], { a: undefined }] }],
    };
    const c = copySession(s);
    expect(c).toStrictEqual(structuredClone(s));
    expect(Object.keys(c)).toEqual(Object.keys(s));
    expect('pendingMatch' in c).toBe(true);
    c.recording.sids.push('RE3');
    c.fields.card.valid = false;
    (c.processorResults[0]!.nested[0] as number[]).push(3);
    expect(s.recording.sids).toEqual(['RE1', 'RE2']);
    expect(s.fields.card.valid).toBe(true);
    expect(s.processorResults[0]!.nested[0]).toEqual([1, 2]);
  });
});
