/**
 * RecentValues: the last value this process wrote to a key, bounded.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RecentValues } from '../../../src/store';

describe('RecentValues', () => {
  test('guesses the last value remembered, null included, and nothing for an unknown key', () => {
    const r = new RecentValues(4);
    r.remember('a', '1');
    r.remember('a', '2');
    r.remember('b', null);
    expect(r.guess('a')).toBe('2');
    expect(r.guess('b')).toBeNull();
    expect(r.guess('c')).toBeUndefined();
  });

  test('keeps at least the newest max keys and at most twice as many', () => {
    const max = 8;
    const r = new RecentValues(max);
    for (let i = 0; i < 1000; i++) {
      r.remember(`k${i}`, String(i));
      for (let j = Math.max(0, i - max + 1); j <= i; j++) expect(r.guess(`k${j}`)).toBe(String(j));
      const known = Array.from({ length: i + 1 }, (_, j) => r.guess(`k${j}`)).filter((v) => v !== undefined).length;
      expect(known).toBeLessThanOrEqual(2 * max);
    }
  });

  test('a key remembered again is the newest: its new value, not the older generation one', () => {
    const r = new RecentValues(2);
    r.remember('a', 'old');
    r.remember('b', 'x'); // the generation turns: a and b are now the older one
    r.remember('a', 'new');
    expect(r.guess('a')).toBe('new');
    r.remember('c', 'y'); // turns again: the older generation (holding b) is gone
    expect(r.guess('a')).toBe('new');
    expect(r.guess('b')).toBeUndefined();
  });

  test('forget removes a key from either generation', () => {
    const r = new RecentValues(2);
    r.remember('a', '1');
    r.remember('b', '2');
    r.remember('c', '3');
    r.forget('a');
    r.forget('c');
    expect(r.guess('a')).toBeUndefined();
    expect(r.guess('c')).toBeUndefined();
    expect(r.guess('b')).toBe('2');
  });
});

describe('RecentValues keeps its keys, not what they were cut from', () => {
  // a full GC on demand, as --expose-gc would give it
  const gc = (() => {
    v8.setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  })();
  const heapAfterGc = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };

  test("a key sliced from a webhook's body does not keep the body (the caller's number in it) alive", () => {
    const r = new RecentValues(64);
    const before = heapAfterGc();
    for (let i = 0; i < 8; i++) {
      // a CallSid as the form parser cuts it from a request's body: V8 keeps a substring this long as a slice of its parent
      const body = `AccountSid=AC${'0'.repeat(32)}&CallSid=CA${String(i).padStart(32, '0')}&From=%2B15551234567&${'x'.repeat(1 << 20)}`;
      const callSid = body.slice(body.indexOf('CallSid=') + 8, body.indexOf('&From'));
      r.remember(callSid, 'trail');
    }
    const kept = heapAfterGc() - before;
    // eight bodies of a MB each held by their keys: 8 MB; the keys alone: a few hundred bytes
    expect(kept).toBeLessThan(1 << 20);
    expect(r.guess(`CA${'7'.padStart(32, '0')}`)).toBe('trail');
  });
});
