/**
 * ResultDelivery sends nothing of a caller who was erased: it counts a try in the result's record
 * before the POST leaves, and a record erased meanwhile reads as gone (the store runs a record's
 * change again on what won when another writer changed it first, and the first run's view must
 * not survive); and a result queued just after the erasure is dropped at its first try.
 */
import { pino } from 'pino';
import { ResultDelivery } from '../../../src/dropin/result-delivery';
import type { Backoff } from '../../../src/processors/http';
import type { AuditSink } from '../../../src/recording/controller';
import { EmbeddedStore, makeKeys, type Store } from '../../../src/store';
import { waitFor } from '../../support/harness';

const CALL = 'CA' + 'd'.repeat(32);
const keys = makeKeys('t:');

/** a started delivery over `store` whose POSTs are answered 200 (or as `answer` says), and those POSTs */
async function delivering(
  store: Store,
  callExists?: (callSid: string) => Promise<boolean>,
  answer: (url: string, init: { body: string }) => Promise<Response> = async () => new Response('', { status: 200 }),
  backoff?: Backoff,
) {
  const fetchImpl = jest.fn(answer);
  const delivery = new ResultDelivery({
    store,
    keys,
    audit: { append: async () => undefined } as unknown as AuditSink,
    log: pino({ level: 'silent' }),
    secret: () => 'capture-result-secret-0123456789abcdef',
    returnUrls: ['https://shop.example.com'],
    fetchImpl: fetchImpl as unknown as typeof fetch,
    callExists,
    backoff,
  });
  await delivery.start();
  return { delivery, fetchImpl };
}

/** a caller-hung-up result queued for the call */
const hungUp = (delivery: ResultDelivery, callSid: string) =>
  delivery.enqueue(callSid, 'https://shop.example.com/paid', { CallSid: callSid, Result: 'caller-hung-up' });

test('a pending record whose URL is not under CAPTURE_RETURN_URLS (written to the store by another hand) is given up, never POSTed or signed; one under it is sent', async () => {
  const store = new EmbeddedStore();
  const appended: Record<string, unknown>[] = [];
  const fetchImpl = jest.fn(async () => new Response('', { status: 200 }));
  const delivery = new ResultDelivery({
    store,
    keys,
    audit: { append: async (_sid: string, entry: Record<string, unknown>) => void appended.push(entry) } as unknown as AuditSink,
    log: pino({ level: 'silent' }),
    secret: () => 'capture-result-secret-0123456789abcdef',
    returnUrls: ['https://shop.example.com'],
    fetchImpl: fetchImpl as unknown as typeof fetch,
  });
  // a record as this service writes one, but its URL and parameters another writer's: a signing oracle aimed anywhere
  const now = Date.now();
  const forged = { v: 1, callSid: CALL, status: 'pending', url: 'http://169.254.169.254/latest', params: { CallSid: CALL, Result: 'success' } };
  await store.set(keys.dropinResult(CALL), JSON.stringify({ ...forged, attempts: 0, nextAt: now, createdAt: now, updatedAt: now }), 600);
  await store.sadd(keys.dropinResults(), CALL, 600);
  const kept = 'CA' + 'e'.repeat(32);
  expect(await hungUp(delivery, kept)).toBe(true);
  await delivery.start();
  const settled = async (sid: string) => (JSON.parse((await store.get(keys.dropinResult(sid))) ?? '{}') as { status?: string }).status !== 'pending';
  await waitFor(async () => (await settled(CALL)) && (await settled(kept)), 'both records to be settled');
  await delivery.stop();
  expect(fetchImpl.mock.calls.map((c) => String((c as unknown[])[0]))).toEqual(['https://shop.example.com/paid']);
  expect(JSON.parse((await store.get(keys.dropinResult(CALL)))!)).toMatchObject({ status: 'failed', reason: 'return-url-not-allowed' });
  expect(JSON.parse((await store.get(keys.dropinResult(CALL)))!)).not.toHaveProperty('url');
  expect(appended).toEqual([{ type: 'dropin.result-undelivered', attempts: 0, reason: 'return-url-not-allowed' }]);
  await store.close();
});

test("the result's record is erased while its try is being counted: the POST never leaves", async () => {
  const inner = new EmbeddedStore();
  let raced = false;
  // the first run of the change is refused (the erasure won): the store runs it again on what is there, nothing
  const store: Store = Object.assign(Object.create(inner) as EmbeddedStore, {
    update: async (key: string, fn: (cur: string | null) => string | undefined, ttl: number, opts?: { guess?: string | null }) => {
      if (!raced && key === keys.dropinResult(CALL)) {
        raced = true;
        fn(await inner.get(key));
        await inner.del(key);
      }
      return inner.update(key, fn, ttl, opts);
    },
  });
  const { delivery, fetchImpl } = await delivering(store);
  expect(await hungUp(delivery, CALL)).toBe(true);
  await waitFor(() => raced, 'the try to be counted');
  await delivery.stop();
  expect(await inner.get(keys.dropinResult(CALL))).toBeNull();
  expect(fetchImpl).not.toHaveBeenCalled();
  await inner.close();
});

test("a result queued just after its caller's erasure (the call's record gone before its first try) is dropped, not sent; a call still there gets its result", async () => {
  const store = new EmbeddedStore();
  const { delivery, fetchImpl } = await delivering(store, async (callSid) => callSid !== CALL);
  const kept = 'CA' + 'e'.repeat(32);
  expect(await hungUp(delivery, CALL)).toBe(true);
  expect(await hungUp(delivery, kept)).toBe(true);
  await waitFor(async () => (await store.get(keys.dropinResult(CALL))) === null && fetchImpl.mock.calls.length === 1, 'both results to be tried');
  await delivery.stop();
  expect(JSON.stringify(fetchImpl.mock.calls)).toContain(kept);
  expect(JSON.stringify(fetchImpl.mock.calls)).not.toContain(CALL);
  expect(await store.smembers(keys.dropinResults())).not.toContain(CALL);
  await store.close();
});

test("a try in flight as its caller is erased and a fresh result is queued for the call never writes over that result, so no later try of it skips the erasure's check", async () => {
  const store = new EmbeddedStore();
  let answerFirst!: (res: Response) => void;
  let erased = false;
  let tries = 0;
  const { delivery, fetchImpl } = await delivering(
    store,
    async () => !erased,
    (_url, init) =>
      new Promise<Response>((resolve) => {
        // the first try (the old result) is held until the test answers it; any other is answered at once
        if (init.body.includes('old') && ++tries === 1) answerFirst = resolve;
        else resolve(new Response('', { status: 503 }));
      }),
    { baseMs: 20, maxMs: 40, maxAttempts: 5 },
  );
  expect(await delivery.enqueue(CALL, 'https://shop.example.com/paid', { CallSid: CALL, Result: 'old' })).toBe(true);
  await waitFor(() => answerFirst !== undefined, 'the first try in flight');
  // the erasure removes the result; a hang-up report that read the call before it queues a fresh one
  erased = true;
  await store.del(keys.dropinResult(CALL));
  expect(await delivery.enqueue(CALL, 'https://shop.example.com/paid', { CallSid: CALL, Result: 'fresh' })).toBe(true);
  // the old try fails: it must not turn the fresh result into a retry of its own
  answerFirst(new Response('', { status: 503 }));
  // the fresh result's first try asks whether the call is there, and drops it
  await waitFor(async () => (await store.get(keys.dropinResult(CALL))) === null, 'the fresh result dropped at its first try');
  await delivery.stop();
  expect(fetchImpl).toHaveBeenCalledTimes(1);
  await store.close();
});
