/**
 * What a process remembers of the recordings it paused for a drop-in capture (held-pauses.ts):
 * enough for the request that paused to resume them if it fails, no longer, and never more than
 * the last minute's pauses.
 */
import { HELD_PAUSE_MS, HeldPauses } from '../../../src/dropin/held-pauses';

const call = (n: number) => 'CA' + String(n).padStart(32, '0');
const rec = (n: number) => 'RE' + String(n).padStart(32, '0');

test('held until forgotten, and only for HELD_PAUSE_MS', () => {
  let now = 1_000_000;
  const held = new HeldPauses(() => now);
  held.hold(call(1), [rec(1), rec(2)]);
  expect(held.of(call(1))).toEqual([rec(1), rec(2)]);
  expect(held.of(call(2))).toEqual([]);
  now += HELD_PAUSE_MS - 1;
  expect(held.of(call(1))).toEqual([rec(1), rec(2)]);
  now += 1;
  expect(held.of(call(1))).toEqual([]);
  held.hold(call(2), [rec(3)]);
  held.forget(call(2));
  expect(held.of(call(2))).toEqual([]);
});

test('bounded: holding a pause drops those older than HELD_PAUSE_MS (calls that returned on another instance)', () => {
  let now = 0;
  const held = new HeldPauses(() => now);
  for (let i = 0; i < 1000; i++) {
    held.hold(call(i), [rec(i)]);
    now += 100;
  }
  // 1000 pauses 100 ms apart: only those of the last minute are kept
  expect(held.size).toBe(HELD_PAUSE_MS / 100);
  // a call held again counts from its new pause
  held.hold(call(999), [rec(999)]);
  now += HELD_PAUSE_MS - 1;
  held.hold(call(5000), [rec(5000)]);
  expect(held.of(call(999))).toEqual([rec(999)]);
  expect(held.size).toBe(2);
});

test("a request's own pauses: only what it paused, until another request pauses the call, and forgotten only by it", () => {
  let now = 1_000_000;
  const held = new HeldPauses(() => now);
  const first = { route: 'capture' };
  const resent = { route: 'capture' };
  held.hold(call(1), [rec(1)], first);
  expect(held.by(call(1), first)).toEqual([rec(1)]);
  // a copy of the request (equal, not the same) paused nothing
  expect(held.by(call(1), resent)).toEqual([]);
  held.forget(call(1), resent);
  expect(held.of(call(1))).toEqual([rec(1)]);
  // a later request of the call (a gather's, held with none) pausing: no longer the first's
  held.hold(call(1), [rec(1)]);
  expect(held.by(call(1), first)).toEqual([]);
  held.forget(call(1), first);
  expect(held.of(call(1))).toEqual([rec(1)]);
  held.hold(call(2), [rec(2)], first);
  now += HELD_PAUSE_MS;
  expect(held.by(call(2), first)).toEqual([]);
  now -= 1;
  held.forget(call(2), first);
  expect(held.of(call(2))).toEqual([]);
});
