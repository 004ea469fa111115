/**
 * The drop-in hang-up watch and result POST on both stores (embedded and a real Redis), with a
 * real HTTP return URL (node:http): two workers on one store stand for two instances (or one
 * instance and its restart). Reads of the call's status are claimed once per period, a watch
 * left by a stopped worker is taken up, a result is POSTed exactly once, retried by whichever
 * worker holds it, given up after maxAttempts with `dropin.result-undelivered`, and no record or
 * log line keeps what it carried.
 */
import { CallRepository } from '../../../src/calls/repository';
import type { CallControl } from '../../../src/calls/control';
import { HangupWatch } from '../../../src/dropin/hangup-watch';
import { ResultDelivery } from '../../../src/dropin/result-delivery';
import { RESULT_SIGNATURE_HEADER, verifyCaptureResult } from '../../../src/dropin/result-signature';
import { CALL_TTL_SECONDS } from '../../../src/calls/session';
import { EmbeddedStore, makeKeys, RedisStore, type Keys, type Store } from '../../../src/store';
import { captureLog, makeSession } from '../../support/fixtures';
import { type Gateway, startGateway, waitFor } from '../../support/gateway';
import { redisUrl, scanRedis, uniquePrefix } from '../../support/redis';

const SECRET = 'capture-result-secret-0123456789abcdef';
const POLL_MS = 50;
const BACKOFF = { baseMs: 100, maxMs: 200, maxAttempts: 5 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Maker = () => Promise<{ store: Store; keys: Keys; done: () => Promise<void> }>;

const makers: [string, Maker][] = [
  [
    'embedded',
    async () => {
      const store = new EmbeddedStore();
      return { store, keys: makeKeys('d:'), done: () => store.close() };
    },
  ],
  [
    'redis',
    async () => {
      const store = new RedisStore(redisUrl());
      await store.connect();
      return { store, keys: makeKeys(uniquePrefix('dropin-work')), done: () => store.close() };
    },
  ],
];

/** Twilio's call resource as the watch reads it: a status, and how often it was read */
function fakeTwilio(): { control: CallControl; status: string; reads: number } {
  const t = {
    status: 'in-progress',
    reads: 0,
    control: {
      calls: Object.assign(
        () => ({
          fetch: async () => {
            t.reads++;
            return { status: t.status };
          },
          update: async () => ({}),
          recordings: Object.assign(() => ({ update: async () => ({ sid: 'RE' }) }), { list: async () => [] }),
        }),
        { create: async () => ({ sid: 'CA' }) },
      ),
    } as CallControl,
  };
  return t;
}

describe.each(makers)('drop-in durable work: %s store', (_name, make) => {
  let store: Store;
  let keys: Keys;
  let done: () => Promise<void>;
  let calls: CallRepository;
  let logged: ReturnType<typeof captureLog>;
  const stops: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    ({ store, keys, done } = await make());
    calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
    logged = captureLog();
  });
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((s) => s()));
    // every key the work left has a TTL
    if (store.kind === 'redis') expect((await scanRedis(keys.prefix)).filter((k) => k.ttl < 0)).toEqual([]);
    await done();
  });

  /** every key the work wrote has a TTL */
  async function expectTtls(...written: string[]): Promise<void> {
    for (const key of written) expect(await store.ttl(key)).not.toBe(-1);
  }

  describe('HangupWatch', () => {
    function watcher(twilio: CallControl, ended: string[], who: string): HangupWatch {
      const w: HangupWatch = new HangupWatch({
        store,
        keys,
        calls,
        twilio,
        log: logged.log,
        pollMs: POLL_MS,
        onEnded: async (callSid) => {
          ended.push(who);
          await w.remove(callSid);
        },
      });
      stops.push(() => w.stop());
      return w;
    }

    test("two workers read the call's status once per period; one stops, the other reads on and reports the hang-up once", async () => {
      const s = makeSession({ dropin: { returnUrl: 'https://shop.example.com/paid' } });
      await calls.create(s);
      const twilio = fakeTwilio();
      const ended: string[] = [];
      const one = watcher(twilio.control, ended, 'one');
      const two = watcher(twilio.control, ended, 'two');
      await one.start();
      await two.start();
      await one.add(s.callSid);
      // the other's webhook for the same capture changes nothing
      await two.add(s.callSid);
      await expectTtls(keys.dropinWatch(s.callSid), keys.dropinWatches());

      await sleep(2 * POLL_MS);
      const before = twilio.reads;
      const started = Date.now();
      await sleep(20 * POLL_MS);
      const periods = (Date.now() - started) / POLL_MS;
      expect(twilio.reads - before).toBeLessThanOrEqual(Math.floor(periods) + 2);
      expect(twilio.reads - before).toBeGreaterThanOrEqual(Math.floor(periods / 2));

      await one.stop();
      const afterStop = twilio.reads;
      await sleep(4 * POLL_MS);
      expect(twilio.reads).toBeGreaterThan(afterStop);
      twilio.status = 'completed';
      await waitFor(() => ended.length > 0, 2_000);
      await sleep(4 * POLL_MS);
      expect(ended).toEqual(['two']);
      expect(await store.get(keys.dropinWatch(s.callSid))).toBeNull();
      expect(await store.smembers(keys.dropinWatches())).toEqual([]);
    });

    test('a watch left in the store by a stopped worker is taken up by one that starts later', async () => {
      const s = makeSession({ dropin: { returnUrl: 'https://shop.example.com/paid' } });
      await calls.create(s);
      const twilio = fakeTwilio();
      const ended: string[] = [];
      const first = watcher(twilio.control, ended, 'first');
      await first.start();
      await first.add(s.callSid);
      await first.stop();
      twilio.status = 'completed';
      const readsWhileStopped = twilio.reads;
      await sleep(3 * POLL_MS);
      expect(twilio.reads).toBe(readsWhileStopped);
      await watcher(twilio.control, ended, 'restarted').start();
      await waitFor(() => ended.length > 0, 2_000);
      expect(ended).toEqual(['restarted']);
    });

    test('a capture that returned, or a call gone from the store, is no longer watched and its status not read', async () => {
      const returned = makeSession({ state: 'returned', dropin: { returnUrl: 'https://shop.example.com/paid', result: 'success' } });
      await calls.create(returned);
      const twilio = fakeTwilio();
      const ended: string[] = [];
      const w = watcher(twilio.control, ended, 'w');
      await w.start();
      await w.add(returned.callSid);
      await w.add('CA' + '0'.repeat(32));
      await sleep(4 * POLL_MS);
      expect(await store.smembers(keys.dropinWatches())).toEqual([]);
      expect(twilio.reads).toBe(0);
      expect(ended).toEqual([]);
    });

    test('a failing read is logged (code and message, no value) and retried next period', async () => {
      const s = makeSession({ dropin: { returnUrl: 'https://shop.example.com/paid' } });
      await calls.create(s);
      const twilio = fakeTwilio();
      let failures = 2;
      const control = {
        calls: Object.assign(
          (sid: string) => ({
            ...twilio.control.calls(sid),
            fetch: async () => {
              if (failures-- > 0) throw Object.assign(new Error('Twilio said no'), { code: 'E_TEST' });
              return twilio.control.calls(sid).fetch();
            },
          }),
          { create: twilio.control.calls.create },
        ),
      } as CallControl;
      const ended: string[] = [];
      const w = watcher(control, ended, 'w');
      await w.start();
      await w.add(s.callSid);
      twilio.status = 'completed';
      await waitFor(() => ended.length > 0, 2_000);
      const warned = logged.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'drop-in call status poll failed');
      expect(warned).toHaveLength(2);
      expect(warned[0]).toMatchObject({ level: 40, callSid: s.callSid, err: { code: 'E_TEST', message: 'Twilio said no' } });
    });
  });

  describe('ResultDelivery', () => {
    let app: Gateway;
    let audited: { callSid: string; entry: Record<string, unknown> }[];
    const callSid = 'CA' + 'a'.repeat(32);
    const params = { CallSid: callSid, Result: 'caller-hung-up', card_masked: '************1111', card_valid: 'true', card_last4: '1111' };

    beforeEach(async () => {
      app = await startGateway();
      audited = [];
    });
    afterEach(async () => {
      await app.close();
    });

    function delivery(returned?: (callSid: string) => boolean): ResultDelivery {
      const d = new ResultDelivery({
        store,
        keys,
        log: logged.log,
        audit: { append: async (sid, entry) => void audited.push({ callSid: sid, entry }) },
        secret: () => SECRET,
        returnUrls: [app.url],
        backoff: BACKOFF,
        scanMs: POLL_MS,
        returned,
      });
      stops.push(() => d.stop());
      return d;
    }

    function form(i: number): URLSearchParams {
      return new URLSearchParams(app.received[i].body);
    }

    test('queued once per call; failing tries retried; the workers stop mid-retries and one started later delivers it, once, signed', async () => {
      let failing = true;
      app.answer = () => ({ status: failing ? 503 : 200 });
      const one = delivery();
      const two = delivery();
      await one.start();
      await two.start();
      const url = `${app.url}/paid?order=42`;
      expect(await one.enqueue(callSid, url, params)).toBe(true);
      // the same hang-up reported again (a status callback after a poll): not a second POST
      expect(await two.enqueue(callSid, url, params)).toBe(false);
      await expectTtls(keys.dropinResult(callSid), keys.dropinResults());
      await waitFor(() => app.received.length >= 1, 2_000);
      await one.stop();
      await two.stop();
      // both stopped: the delivery waits in the store, its tries counted
      const pending = JSON.parse((await store.get(keys.dropinResult(callSid)))!) as Record<string, unknown>;
      expect(pending).toMatchObject({ status: 'pending', params });
      expect(pending.attempts).toBeGreaterThanOrEqual(1);
      failing = false;
      await delivery().start();
      await waitFor(() => app.received.some((_, i) => i >= (pending.attempts as number)), 3_000);
      await sleep(5 * POLL_MS);
      expect(app.received).toHaveLength((pending.attempts as number) + 1);
      const last = form(app.received.length - 1);
      expect(Object.fromEntries(last)).toEqual({ order: '42', ...params });
      expect(verifyCaptureResult(last, app.received.at(-1)!.headers[RESULT_SIGNATURE_HEADER.toLowerCase()] as string, SECRET)).toBe(true);
      const record = JSON.parse((await store.get(keys.dropinResult(callSid)))!) as Record<string, unknown>;
      expect(record).toMatchObject({ status: 'delivered', attempts: (pending.attempts as number) + 1 });
      expect(record.params).toBeUndefined();
      expect(record.url).toBeUndefined();
      expect(await store.ttl(keys.dropinResult(callSid))).toBeGreaterThan(CALL_TTL_SECONDS - 60);
      expect(await store.smembers(keys.dropinResults())).toEqual([]);
      // delivered is for good: queuing it again sends nothing
      expect(await delivery().enqueue(callSid, url, params)).toBe(false);
      expect(audited).toEqual([]);
    });

    test('given up after maxAttempts: dropin.result-undelivered audited once, an error logged, nothing kept of the result', async () => {
      app.answer = () => ({ status: 500 });
      const one = delivery();
      const two = delivery();
      await one.start();
      await two.start();
      await one.enqueue(callSid, `${app.url}/paid`, params);
      await waitFor(() => audited.length > 0, 5_000);
      await sleep(5 * POLL_MS);
      expect(app.received).toHaveLength(BACKOFF.maxAttempts);
      expect(audited).toEqual([{ callSid, entry: { type: 'dropin.result-undelivered', attempts: BACKOFF.maxAttempts } }]);
      const record = JSON.parse((await store.get(keys.dropinResult(callSid)))!) as Record<string, unknown>;
      expect(record).toMatchObject({ status: 'failed', attempts: BACKOFF.maxAttempts, reason: 'http 500' });
      expect(record.params).toBeUndefined();
      const lines = logged.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.filter((l) => l.msg === 'drop-in result delivery failed: will retry')).toHaveLength(BACKOFF.maxAttempts - 1);
      expect(lines.filter((l) => l.msg === 'drop-in result not delivered: giving up')).toEqual([
        expect.objectContaining({ level: 50, callSid, attempt: BACKOFF.maxAttempts, reason: 'http 500' }),
      ]);
      // no log line names the return URL or carries a result parameter (its own time and pid
      // aside: an epoch millisecond ending in 1111 is not the card's last four)
      const said = lines.map((l) => JSON.stringify({ ...l, time: undefined, pid: undefined })).join('\n');
      for (const text of [app.url, '1111', 'order']) expect(said).not.toContain(text);
    });

    test('a call this worker returned to the app itself (its return not yet saved): the hang-up result is withdrawn, never posted', async () => {
      const mine = delivery(() => true);
      await mine.start();
      // queued by a worker that could not know (stopped before trying it)
      await delivery().enqueue(callSid, `${app.url}/paid`, params);
      await waitFor(() => logged.lines.some((l) => l.includes('drop-in result withdrawn')), 2_000);
      await sleep(4 * POLL_MS);
      expect(app.received).toHaveLength(0);
      const record = JSON.parse((await store.get(keys.dropinResult(callSid)))!) as Record<string, unknown>;
      expect(record).toMatchObject({ status: 'failed', reason: 'withdrawn', attempts: 0 });
      expect(record.params).toBeUndefined();
      expect(await store.smembers(keys.dropinResults())).toEqual([]);
    });

    test('withdraw: a pending result is never sent; refused while another worker holds its try', async () => {
      const other = 'CA' + 'b'.repeat(32);
      const one = delivery();
      await one.enqueue(callSid, `${app.url}/paid`, params);
      await one.enqueue(other, `${app.url}/paid`, { ...params, CallSid: other });
      expect(await one.withdraw(callSid)).toBe(true);
      expect(JSON.parse((await store.get(keys.dropinResult(callSid)))!)).toMatchObject({ status: 'failed', reason: 'withdrawn' });
      await store.setIfAbsent(keys.dropinResultLease(other), 'another-worker', 30);
      expect(await one.withdraw(other)).toBe(false);
      expect(JSON.parse((await store.get(keys.dropinResult(other)))!)).toMatchObject({ status: 'pending' });
      await store.del(keys.dropinResultLease(other));
      await one.start();
      await waitFor(() => app.received.length > 0, 2_000);
      await sleep(4 * POLL_MS);
      expect(app.received.map((r) => new URLSearchParams(r.body).get('CallSid'))).toEqual([other]);
    });

    test('an unreachable return URL: a network failure, logged with its error, and retried', async () => {
      const one = delivery();
      await one.start();
      // a port nothing listens on once the app is closed (afterEach's second close does nothing)
      const url = `${app.url}/paid`;
      await app.close();
      await one.enqueue(callSid, url, params);
      await waitFor(() => logged.lines.some((l) => l.includes('drop-in result delivery failed: will retry')), 2_000);
      const [warned] = logged.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'drop-in result delivery failed: will retry');
      expect(warned).toMatchObject({ level: 40, callSid, attempt: 1, reason: 'network', err: { message: expect.any(String) } });
    });
  });
});
