/**
 * The in-process memory of received webhooks (twilio/seen-requests.ts): a request's first arrival
 * is new and a copy of it within the memory's time is not; past that time it is forgotten; at
 * its cap the oldest goes first, reported; nothing of the signature is kept in plain.
 */
import { SEEN_REQUEST_MEMORY_MS, SeenRequests } from '../../../src/twilio/seen-requests';
import { DROPIN_QUERY_MAX_AGE_SECONDS } from '../../../src/twilio/dropin-rescue';
import { STRETCH_QUERY_MAX_AGE_SECONDS } from '../../../src/twilio/stretch-rescue';
import { QUERY_CLOCK_SKEW_SECONDS } from '../../../src/recording/query-time';

function clocked(opts: { memoryMs?: number; max?: number } = {}) {
  let t = 1_000;
  let dropped = 0;
  const seen = new SeenRequests({ ...opts, now: () => t, onDrop: () => void dropped++ });
  return { seen, advance: (ms: number) => void (t += ms), dropped: () => dropped };
}

test('a first arrival is new, a copy of it is not, another request is new', () => {
  const { seen, advance } = clocked();
  expect(seen.arrive('sig-a')).toBe(false);
  advance(5_000);
  expect(seen.arrive('sig-a')).toBe(true);
  expect(seen.arrive('sig-b')).toBe(false);
  expect(seen.arrive('sig-a')).toBe(true);
  expect(seen.size).toBe(2);
});

test('remembered as long as a query may resume anything after it arrived, the skew a query dated ahead may carry included', () => {
  expect(SEEN_REQUEST_MEMORY_MS).toBe((Math.max(STRETCH_QUERY_MAX_AGE_SECONDS, DROPIN_QUERY_MAX_AGE_SECONDS) + QUERY_CLOCK_SKEW_SECONDS) * 1000);
  expect(SEEN_REQUEST_MEMORY_MS).toBe(210_000);
});

test('forgotten once its time is over: swept as later requests arrive, a copy then new again', () => {
  const { seen, advance } = clocked({ memoryMs: 10_000 });
  seen.arrive('sig-a');
  advance(4_000);
  seen.arrive('sig-b');
  advance(5_999);
  expect(seen.arrive('sig-c')).toBe(false);
  expect(seen.size).toBe(3);
  advance(1);
  // sig-a's 10 s are over: swept by this arrival; sig-b's are not
  expect(seen.arrive('sig-d')).toBe(false);
  expect(seen.size).toBe(3);
  expect(seen.arrive('sig-b')).toBe(true);
  expect(seen.arrive('sig-a')).toBe(false);
  advance(20_000);
  expect(seen.arrive('sig-e')).toBe(false);
  expect(seen.size).toBe(1);
});

test('a copy arriving again is remembered from its latest arrival', () => {
  const { seen, advance } = clocked({ memoryMs: 10_000 });
  seen.arrive('sig-a');
  advance(8_000);
  expect(seen.arrive('sig-a')).toBe(true);
  advance(8_000);
  expect(seen.arrive('sig-a')).toBe(true);
});

test('at its cap the oldest is dropped first, each drop reported; the rest are still known', () => {
  const { seen, advance, dropped } = clocked({ max: 3 });
  for (const s of ['sig-1', 'sig-2', 'sig-3']) {
    seen.arrive(s);
    advance(10);
  }
  expect(dropped()).toBe(0);
  expect(seen.arrive('sig-4')).toBe(false);
  expect(seen.size).toBe(3);
  expect(dropped()).toBe(1);
  expect(seen.arrive('sig-2')).toBe(true);
  expect(seen.arrive('sig-3')).toBe(true);
  expect(seen.arrive('sig-4')).toBe(true);
  expect(dropped()).toBe(1);
  // sig-1 went first: new again, and the oldest by its latest arrival (sig-2) dropped for it
  expect(seen.arrive('sig-1')).toBe(false);
  expect(dropped()).toBe(2);
  expect(seen.arrive('sig-4')).toBe(true);
  expect(seen.arrive('sig-2')).toBe(false);
});

test('keeps no signature in plain', () => {
  const { seen } = clocked();
  const signature = 'q7kB2uXbSMW0Xw4E3tVg+Jq9tYo=';
  seen.arrive(signature);
  const kept = JSON.stringify([...(seen as unknown as { arrived: Map<string, number> }).arrived.keys()]);
  expect(kept).not.toContain(signature);
  expect(kept).not.toContain(signature.slice(0, 12));
});
