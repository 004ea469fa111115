/**
 * The process's stop (src/process-stop.ts) on a fake clock: a close that ends in time exits as
 * asked after the held audit entries' last try; one that hangs is left at its time, the last try
 * run within LAST_TRY_MS and the exit 1 before the deadline; a second signal ends the stop at
 * once, the same way; a signal during the last try changes nothing.
 */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log';
import { END_RESERVE_MS, LAST_TRY_MS, ProcessStop, SHUTDOWN_DEADLINE_MS } from '../../src/process-stop';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** a stop whose steps the test settles; what it did, in order */
function stopWith(opts: { drain?: () => Promise<void>; close?: () => Promise<void>; lastTry?: (ms: number) => Promise<number> } = {}) {
  const did: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const stop = new ProcessStop({
    log,
    markDraining: () => did.push('draining'),
    drain: () => (did.push('drain'), (opts.drain ?? (() => Promise.resolve()))()),
    close: () => (did.push('close'), (opts.close ?? (() => Promise.resolve()))()),
    lastTry: (ms) => (did.push(`last-try ${ms}`), (opts.lastTry ?? (() => Promise.resolve(0)))(ms)),
    exit: (code) => did.push(`exit ${code}`),
  });
  return { stop, did, lines };
}

const never = () => new Promise<never>(() => undefined);

test('a drain and close that end in time: the last try (nothing left), then the exit asked', async () => {
  const { stop, did } = stopWith();
  stop.signal('SIGTERM', 3000);
  await jest.advanceTimersByTimeAsync(3000);
  expect(did).toEqual(['draining', 'drain', 'close', `last-try ${LAST_TRY_MS}`, 'exit 0']);
});

test('a close that hangs is left at its time: the last try, then exit 1, before the deadline', async () => {
  const { stop, did, lines } = stopWith({ close: never });
  stop.signal('SIGTERM', 3000);
  await jest.advanceTimersByTimeAsync(SHUTDOWN_DEADLINE_MS - END_RESERVE_MS - 1);
  expect(did).toEqual(['draining', 'drain', 'close']);
  await jest.advanceTimersByTimeAsync(1);
  expect(did).toEqual(['draining', 'drain', 'close', `last-try ${LAST_TRY_MS}`, 'exit 1']);
  expect(lines.find((l) => String(l.msg).startsWith('shutdown step did not end'))).toMatchObject({ step: 'close' });
});

test('a drain that hangs is left at the same time', async () => {
  const { stop, did, lines } = stopWith({ drain: never });
  stop.signal('SIGTERM', 8000);
  await jest.advanceTimersByTimeAsync(SHUTDOWN_DEADLINE_MS - END_RESERVE_MS);
  expect(did).toEqual(['draining', 'drain', `last-try ${LAST_TRY_MS}`, 'exit 1']);
  expect(lines.find((l) => String(l.msg).startsWith('shutdown step did not end'))).toMatchObject({ step: 'drain' });
});

test('a second signal ends the stop at once; one during the last try changes nothing', async () => {
  let release!: (n: number) => void;
  const { stop, did, lines } = stopWith({ lastTry: () => new Promise<number>((r) => (release = r)) });
  stop.signal('SIGTERM', 8000);
  await jest.advanceTimersByTimeAsync(1000);
  stop.signal('SIGINT', 8000);
  expect(did).toEqual(['draining', 'drain', `last-try ${LAST_TRY_MS}`]);
  stop.signal('SIGTERM', 8000);
  release(2);
  await jest.advanceTimersByTimeAsync(SHUTDOWN_DEADLINE_MS);
  // the drain's wait ran out meanwhile: no close, no second exit (the deadline's timer exits as a backstop only)
  expect(did.filter((d) => d !== 'exit 1')).toEqual(['draining', 'drain', `last-try ${LAST_TRY_MS}`]);
  expect(did.indexOf('exit 1')).toBe(3);
  expect(lines.find((l) => String(l.msg).startsWith('second signal'))).toMatchObject({ signal: 'SIGINT', step: 'drain' });
  expect(lines.some((l) => String(l.msg).startsWith('signal during the last step'))).toBe(true);
});

test('a close that fails: logged, the last try, exit 1', async () => {
  const { stop, did, lines } = stopWith({ close: () => Promise.reject(new Error('boom')) });
  stop.signal('rest-check', 0, 1);
  await jest.advanceTimersByTimeAsync(0);
  expect(did).toEqual(['draining', 'close', `last-try ${LAST_TRY_MS}`, 'exit 1']);
  expect(lines.some((l) => l.msg === 'shutdown failed')).toBe(true);
});
