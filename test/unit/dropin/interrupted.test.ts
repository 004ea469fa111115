/**
 * interruptedEnding: how an entry that `*` interrupted ended, as far as the app's recordings
 * care. The capture's return resumes them by the same rule as after any sensitive field: at once
 * after '#', after RESUME_HOLD_MS when the Gather ended on its count, after a guard when it ended
 * on its timeout; at once when nothing sensitive was asked or no recording was paused.
 */
import type { CallSession } from '../../../src/calls/session';
import { interruptedEnding } from '../../../src/dropin/outcome';
import { parseFlow } from '../../../src/flows/load';

const flow = parseFlow(
  'card.yaml',
  `id: card
numbers: ["+15005550151"]
steps:
  - say: "Welcome."
  - collect: card
    kind: card-number
    prompt: "Card, then hash."
  - collect: expiry
    kind: expiry
    prompt: "Expiry, four digits."
  - collect: reference
    kind: digits
    sensitive: false
    prompt: "Your reference."
handoff:
  mode: dial
`,
);

function at(step: number, recording: CallSession['recording']['status'] = 'paused'): CallSession {
  return { step, attempt: 1, recording: { status: recording }, fields: {}, dropin: { returnUrl: 'https://shop.example.com/paid' } } as unknown as CallSession;
}

describe('interruptedEnding', () => {
  test("a fixed-length field's Gather that ended on its count ('1*25' of an expiry): keys may follow", () => {
    expect(interruptedEnding(flow, at(2), { digits: '1*25', finishedOnKey: '' })).toBe('count');
  });

  test("on its timeout ('1*' of an expiry, or of a card): the caller may key on, a guard first", () => {
    expect(interruptedEnding(flow, at(2), { digits: '1*', finishedOnKey: '' })).toBe('silence');
    expect(interruptedEnding(flow, at(1), { digits: '4111*', finishedOnKey: '' })).toBe('silence');
  });

  test("on '#': the caller said they were done, the return goes at once", () => {
    expect(interruptedEnding(flow, at(1), { digits: '4111*', finishedOnKey: '#' })).toBe('key');
  });

  test('no recording paused, or no sensitive field asked: at once, whatever ended the Gather', () => {
    expect(interruptedEnding(flow, at(2, 'none'), { digits: '1*25', finishedOnKey: '' })).toBe('key');
    expect(interruptedEnding(flow, at(2, 'in-progress'), { digits: '1*', finishedOnKey: '' })).toBe('key');
    expect(interruptedEnding(flow, at(3), { digits: '1*', finishedOnKey: '' })).toBe('key');
    expect(interruptedEnding(flow, at(0), { digits: '*', finishedOnKey: '' })).toBe('key');
  });
});
