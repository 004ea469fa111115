/**
 * What the idle limit costs the store (auth/idle.ts): one read per use, which the sign-out check
 * makes anyway, and a write of the last use at most once per refresh interval per token (a tenth
 * of the limit, 30 s at most), whichever instance it is used on. The embedded store, counted; the
 * clock is the test's own.
 */
import { EmbeddedStore, makeKeys } from '../../../src/store';
import { TokenRevocations } from '../../../src/auth/revocations';
import { IDLE_REFRESH_MAX_MS } from '../../../src/auth/idle';

let store: EmbeddedStore;
beforeEach(() => (store = new EmbeddedStore()));
afterEach(() => store.close());

/** two instances' views of one store: each its own TokenRevocations, one clock */
function instances(idleSeconds: number, clock: { ms: number }) {
  const calls = { reads: 0, writes: 0 };
  const counted = {
    get: (k: string) => (calls.reads++, store.get(k)),
    getMany: (k: string[]) => (calls.reads++, store.getMany(k)),
    set: (k: string, v: string, ttl: number) => (calls.writes++, store.set(k, v, ttl)),
  };
  const make = () => new TokenRevocations(counted, makeKeys('t:'), 30_000, { idleSeconds, now: () => clock.ms });
  return { a: make(), b: make(), calls };
}

const exp = (clock: { ms: number }) => Math.floor(clock.ms / 1000) + 3600;

it('writes a use at most once per 30 s per token across instances, with one read per use, and refuses it once idle', async () => {
  const clock = { ms: 1_700_000_000_000 };
  const { a, b, calls } = instances(900, clock);
  // a use every second for two minutes, alternating instances
  for (let s = 0; s < 120; s++) {
    expect(await (s % 2 ? a : b).standing('d1', exp(clock), true)).toBe('good');
    clock.ms += 1000;
  }
  expect(calls.reads).toBe(120);
  expect(calls.writes).toBe(Math.ceil(120_000 / IDLE_REFRESH_MAX_MS));
  // the last use written was at 90 s (the one at 119 s was within 30 s of it): the limit counts
  // from it, on the strict side. A check of an open socket is no use: nothing written.
  const start = clock.ms - 120_000;
  clock.ms = start + 90_000 + 900_000;
  expect(await a.standing('d1', exp(clock), false)).toBe('good');
  clock.ms += 1;
  expect(await b.standing('d1', exp(clock), false)).toBe('idle');
  expect(await a.standing('d1', exp(clock), true)).toBe('idle');
  expect(calls.writes).toBe(Math.ceil(120_000 / IDLE_REFRESH_MAX_MS));
});

it('refreshes a short limit a tenth of it at a time, so a token used more often than the limit never goes idle', async () => {
  const clock = { ms: 1_700_000_000_000 };
  const { a, b, calls } = instances(2, clock);
  for (let i = 0; i < 40; i++) {
    expect([i, await (i % 2 ? a : b).standing('d2', exp(clock), true)]).toEqual([i, 'good']);
    clock.ms += 1900;
  }
  expect(calls.writes).toBe(40);
  clock.ms += 200;
  expect(await a.standing('d2', exp(clock), false)).toBe('idle');
});

it('answers revoked before idle, and a token never used is good and its clock starts', async () => {
  const clock = { ms: 1_700_000_000_000 };
  const { a, b } = instances(60, clock);
  expect(await a.standing('d3', exp(clock), false)).toBe('good');
  expect(await a.standing('d3', exp(clock), true)).toBe('good');
  clock.ms += 61_000;
  expect(await b.standing('d3', exp(clock), true)).toBe('idle');
  await a.revoke('d3', exp(clock), clock.ms);
  expect(await b.standing('d3', exp(clock), true)).toBe('revoked');
});
