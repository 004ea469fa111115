/**
 * endSession: how every end of a call (status callback, bridge end, sweep, erasure) moves its
 * record, so that whichever comes first counts the call out once and lets a sealed value go.
 */
import { endSession } from '../../../src/calls/session';
import { makeSession } from '../../support/fixtures';

describe('endSession', () => {
  test('a live call: ended at the time given, it left the active calls, its pending sealed value handed back and let go', () => {
    const s = makeSession({ state: 'bridged', pendingMatch: { step: 2, token: 'v_first' } });
    expect(endSession(s, 1234)).toEqual({ left: true, sealed: 'v_first' });
    expect(s.state).toBe('ended');
    expect(s.endedAt).toBe(1234);
    expect(s.pendingMatch).toBeUndefined();
  });

  test('keeps the state the call ended from: an offer no one took reaches the agents it was offered to (agents/socket.ts)', () => {
    const s = makeSession({ state: 'offered' });
    endSession(s, 1);
    expect(s.endedFrom).toBe('offered');
  });

  test('a call returned to its app had left the active calls already', () => {
    const s = makeSession({ state: 'returned' });
    expect(endSession(s, 1)).toEqual({ left: false, sealed: undefined });
    expect(s.state).toBe('ended');
  });

  test('an ended call: null, and nothing changed (what ended it counted it)', () => {
    const s = makeSession({ state: 'ended', endedAt: 5, pendingMatch: { step: 1, token: 'v_kept' } });
    const before = structuredClone(s);
    expect(endSession(s, 9)).toBeNull();
    expect(s).toEqual(before);
  });
});
