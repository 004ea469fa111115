/**
 * UnsavedReturns on jest's fake clock: a return the store cannot take is saved again every
 * retry period, its failures logged less and less often (the 1st, 2nd, 4th, 8th...), and once
 * stopped (the service closing) nothing is tried or scheduled again, not even by a retry that
 * was in flight when stop() came.
 */
import { pino } from 'pino';
import type { CallRepository } from '../../../src/calls/repository';
import { StoreErrors } from '../../../src/errors';
import { UnsavedReturns } from '../../../src/dropin/unsaved-returns';
import type { AuditSink } from '../../../src/recording/controller';

const CALL = 'CA' + 'c'.repeat(32);
const OTHER = 'CA' + 'd'.repeat(32);
const STILL_NOT_SAVED = 'drop-in return still not saved: will retry';
const RETRY_MS = 1_000;

/** a store that refuses every write (`update` answers with `answer`), and the log lines written */
function returns(answer: (callSid: string) => Promise<void> = () => Promise.reject(StoreErrors.unavailable())) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const update = jest.fn(answer);
  const unsaved = new UnsavedReturns({
    calls: { update } as unknown as CallRepository,
    audit: { append: () => Promise.reject(StoreErrors.unavailable()) } as unknown as AuditSink,
    erase: async () => undefined,
    unwatch: async () => undefined,
    withdraw: async () => true,
    post: async () => true,
    onLeft: () => undefined,
    retryMs: RETRY_MS,
  });
  return { unsaved, update, lines, log };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

it('stop() during a retry in flight: the retry ends, and no timer is set, no save tried after it', async () => {
  let failRetry!: (err: unknown) => void;
  let saves = 0;
  const { unsaved, update, log } = returns(() => {
    saves++;
    // the first save fails at once; the retry's waits on the store until the test fails it
    if (saves === 1) return Promise.reject(StoreErrors.unavailable());
    return new Promise<void>((_resolve, reject) => (failRetry = reject));
  });
  await unsaved.save({ callSid: CALL, resumed: true, unwatched: true, log });
  expect(unsaved.has(CALL)).toBe(true);
  expect(jest.getTimerCount()).toBe(1);

  await jest.advanceTimersByTimeAsync(RETRY_MS);
  expect(update).toHaveBeenCalledTimes(2);
  unsaved.stop();
  failRetry(StoreErrors.unavailable());
  await jest.advanceTimersByTimeAsync(0);

  expect(jest.getTimerCount()).toBe(0);
  await jest.advanceTimersByTimeAsync(RETRY_MS * 10);
  expect(update).toHaveBeenCalledTimes(2);
  // kept, as the process stops with it (unsaved-returns.ts: the window left open)
  expect(unsaved.has(CALL)).toBe(true);
});

it('a return saved after stop() is kept, and no retry is scheduled for it', async () => {
  const { unsaved, update, log } = returns();
  unsaved.stop();
  await unsaved.save({ callSid: CALL, resumed: true, unwatched: true, log });
  expect(unsaved.has(CALL)).toBe(true);
  expect(jest.getTimerCount()).toBe(0);
  await jest.advanceTimersByTimeAsync(RETRY_MS * 10);
  expect(update).toHaveBeenCalledTimes(1);
});

it("a retry that fails is logged at the 1st, 2nd, 4th, 8th, 16th failure of each return, with the count and the error's code", async () => {
  const { unsaved, update, lines, log } = returns();
  await unsaved.save({ callSid: CALL, resumed: true, unwatched: true, log: log.child({ callSid: CALL }) });
  for (let i = 0; i < 5; i++) await jest.advanceTimersByTimeAsync(RETRY_MS);
  // a return kept later counts its own failures from the first
  await unsaved.save({ callSid: OTHER, resumed: true, unwatched: true, log: log.child({ callSid: OTHER }) });
  for (let i = 0; i < 15; i++) await jest.advanceTimersByTimeAsync(RETRY_MS);
  unsaved.stop();

  // the saves of CALL: its first, then one per retry period
  expect(update.mock.calls.filter(([callSid]) => callSid === CALL)).toHaveLength(21);
  const logged = (callSid: string) => lines.filter((l) => l.msg === STILL_NOT_SAVED && l.callSid === callSid);
  expect(logged(CALL).map((l) => l.failures)).toEqual([1, 2, 4, 8, 16]);
  expect(logged(OTHER).map((l) => l.failures)).toEqual([1, 2, 4, 8]);
  for (const l of [...logged(CALL), ...logged(OTHER)]) {
    expect(l).toMatchObject({ level: 40, err: { code: StoreErrors.unavailable.code } });
    expect(Object.keys(l).sort()).toEqual(['callSid', 'err', 'failures', 'hostname', 'level', 'msg', 'pid', 'time']);
  }
});
