/**
 * The sweep reads Twilio a few calls at a time (calls/sweep.ts eachAtMost): every call read, never
 * more at once than the bound, and one read that fails stops none of the others.
 */
import { eachAtMost, SWEEP_READS_AT_ONCE } from '../../../src/calls/sweep';

/** a read that takes a few event-loop turns, counting how many are under way at once */
function reads() {
  let now = 0;
  let most = 0;
  const done: number[] = [];
  const read = async (i: number) => {
    now++;
    most = Math.max(most, now);
    for (let k = 0; k < 3 + (i % 4); k++) await new Promise((r) => setImmediate(r));
    now--;
    done.push(i);
  };
  return { read, done, most: () => most };
}

describe('eachAtMost', () => {
  it('reads every call, at most the bound at once, and as many as it allows', async () => {
    const r = reads();
    const calls = Array.from({ length: 50 }, (_, i) => i);
    await eachAtMost(SWEEP_READS_AT_ONCE, calls, r.read);
    expect(r.done.sort((x, y) => x - y)).toEqual(calls);
    expect(r.most()).toBe(SWEEP_READS_AT_ONCE);
  });

  it('with fewer calls than the bound, reads them all at once; with none, nothing', async () => {
    const r = reads();
    await eachAtMost(8, [1, 2, 3], r.read);
    expect(r.most()).toBe(3);
    const none = reads();
    await eachAtMost(8, [], none.read);
    expect(none.done).toEqual([]);
  });

  it('goes on past a read that fails and handles it itself', async () => {
    const seen: number[] = [];
    await eachAtMost(2, [1, 2, 3, 4], async (i) => {
      try {
        if (i === 2) throw new Error('twilio 500');
        seen.push(i);
      } catch {
        seen.push(-i);
      }
    });
    expect(seen.sort()).toEqual([-2, 1, 3, 4]);
  });
});
