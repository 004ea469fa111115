/**
 * Processor delivery against a real Redis and a real HTTP processor (node:http): exactly once,
 * signed, retried with backoff, resumed after a restart, never sent by two instances at once,
 * and no value in any log line or stored record.
 */
import { AuditTrail } from '../../../src/audit';
import { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import { CALLER_VAULT_FIELD } from '../../../src/calls/session';
import {
  type DeliveryResult,
  idempotencyKey,
  parseProcessors,
  ProcessorDelivery,
  type ProcessorConfig,
  verifyProcessorRequest,
  verifySignature,
} from '../../../src/processors';
import { RedisStore, type Keys } from '../../../src/store';
import type { Vault } from '../../../src/vault';
import { redisUrl, scanRedis } from '../../support/redis';
import { captureLog, field, makeSession, redisFixture } from '../../support/fixtures';
import { type Gateway, startGateway, waitFor } from '../../support/gateway';
import { TEST_AUDIT_KEY } from '../../support/audit';
import { holdsValue } from '../../support/values';

const PAN = '4111111111111111';
const EXPIRY = '1230';
const CVV = '737';
const ACCOUNT = '00123456';
const PHONE = '+15551234567';
const SECRET = 'gateway secret text, 32 characters or more';
const CRM_SECRET = 'crm secret text, 32 characters or more';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ProcessorDelivery', () => {
  let store: RedisStore;
  let keys: Keys;
  let prefix: string;
  let vault: Vault;
  let calls: CallRepository;
  let gw: Gateway;
  let processors: ProcessorConfig[];
  let results: { callSid: string; processor: string; result: DeliveryResult }[];
  let logged: ReturnType<typeof captureLog>;
  const running: ProcessorDelivery[] = [];
  const extraStores: RedisStore[] = [];

  beforeEach(async () => {
    ({ store, keys, prefix, vault } = await redisFixture('delivery'));
    calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
    gw = await startGateway();
    processors = parseProcessors(
      'test.yaml',
      `processors:
  - { name: gateway, url: "${gw.url}/charge", secretEnv: GW, fields: [card, expiry, cvv] }
  - { name: crm, url: "${gw.url}/crm", secretEnv: CRM, fields: [account] }
`,
      { GW: SECRET, CRM: CRM_SECRET },
    );
    results = [];
    logged = captureLog();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()));
    await gw.close();
    const scan = await scanRedis(prefix);
    expect(scan.filter((k) => k.ttl < 0)).toEqual([]);
    await Promise.all(extraStores.splice(0).map((s) => s.close()));
    await store.close();
  });

  function delivery(over: Partial<ConstructorParameters<typeof ProcessorDelivery>[0]> = {}) {
    const d = new ProcessorDelivery({
      store,
      keys,
      vault,
      calls,
      processors,
      log: logged.log,
      onResult: (callSid, processor, result) => results.push({ callSid, processor, result }),
      ...over,
    });
    running.push(d);
    return d;
  }

  async function paymentCall(only?: string[]): Promise<CallSession> {
    const s = makeSession();
    s.fromToken = await vault.put(s.callSid, CALLER_VAULT_FIELD, PHONE);
    const values: Record<string, [CallSession['fields'][string]['kind'], string]> = {
      card: ['card-number', PAN],
      expiry: ['expiry', EXPIRY],
      cvv: ['security-code', CVV],
      account: ['digits', ACCOUNT],
    };
    for (const [name, [kind, v]] of Object.entries(values)) {
      if (only && !only.includes(name)) continue;
      s.fields[name] = field(kind, await vault.put(s.callSid, name, v));
    }
    await calls.create(s);
    return s;
  }

  const charges = () => gw.received.filter((r) => r.path === '/charge');

  test('sends exactly the listed fields, signed, once per call and processor, when they are complete', async () => {
    const d = delivery();
    await d.start();
    const partial = await paymentCall(['card', 'expiry']);
    await d.onCallUpdated(partial);
    await sleep(200);
    expect(gw.received).toHaveLength(0);

    const s = await paymentCall();
    gw.answer = (_n, req) => ({ status: 200, body: { approved: true, path: req.path } });
    await d.onCallUpdated(s);
    await d.onCallUpdated(s); // a repeated update queues nothing more
    await waitFor(() => results.length === 2);

    const charge = charges();
    expect(charge).toHaveLength(1);
    expect(JSON.parse(charge[0].body)).toEqual({
      purpose: 'delivery',
      idempotencyKey: idempotencyKey(s.callSid, 'gateway'),
      callSid: s.callSid,
      subject: PHONE,
      fields: { card: PAN, expiry: EXPIRY, cvv: CVV },
    });
    expect(charge[0].headers['content-type']).toBe('application/json');
    const signature = charge[0].headers['x-tonewall-signature'] as string;
    expect(verifySignature(signature, charge[0].body, SECRET, 60)).toBe(true);
    expect(charge[0].headers['idempotency-key']).toBe(idempotencyKey(s.callSid, 'gateway'));
    // the key a receiver dedupes on is signed, and is the header's; the body is no erasure
    expect(verifyProcessorRequest(signature, charge[0].body, SECRET, 'delivery', 60)?.idempotencyKey).toBe(charge[0].headers['idempotency-key']);
    expect(verifyProcessorRequest(signature, charge[0].body, SECRET, 'erasure', 60)).toBeNull();
    const crm = gw.received.filter((r) => r.path === '/crm');
    expect(crm).toHaveLength(1);
    expect(JSON.parse(crm[0].body).fields).toEqual({ account: ACCOUNT });
    expect(verifySignature(crm[0].headers['x-tonewall-signature'] as string, crm[0].body, CRM_SECRET, 60)).toBe(true);

    const gwResult = results.find((r) => r.processor === 'gateway')!;
    expect(gwResult).toEqual({ callSid: s.callSid, processor: 'gateway', result: { ok: true, status: 200, body: { approved: true }, attempts: 1 } });

    // delivered is remembered: a later update, an instance restart, never resend
    await d.onCallUpdated(s);
    await d.stop();
    const d2 = delivery();
    await d2.start();
    await d2.onCallUpdated(s);
    await sleep(300);
    expect(gw.received).toHaveLength(2);
    expect(await store.smembers(keys.deliveries())).toEqual([]);
    const rec = JSON.parse((await store.get(keys.delivery(s.callSid, 'gateway')))!);
    expect(rec).toMatchObject({ status: 'delivered', attempts: 1, httpStatus: 200 });
    expect(await store.ttl(keys.delivery(s.callSid, 'gateway'))).toBeGreaterThanOrEqual(vault.ttlSeconds);
  });

  test("the delivery's record is erased while its try is being counted (the change run again on what won): nothing is sent", async () => {
    const s = await paymentCall(['card', 'expiry', 'cvv']);
    const key = keys.delivery(s.callSid, 'gateway');
    let raced = false;
    // the first run of the change is refused (the erasure won): the store runs it again on what is there, nothing
    const racing = Object.assign(Object.create(store) as RedisStore, {
      update: async (k: string, fn: (cur: string | null) => string | undefined, ttl: number, opts?: { guess?: string | null }) => {
        if (!raced && k === key) {
          raced = true;
          fn(await store.get(k));
          await store.del(k);
        }
        return store.update(k, fn, ttl, opts);
      },
    });
    const d = delivery({ store: racing });
    await d.start();
    await d.onCallUpdated(s);
    await waitFor(() => raced);
    await d.stop();
    expect(await store.get(key)).toBeNull();
    expect(charges()).toHaveLength(0);
  });

  test('a payment session is a round of its own: a retry whose values were replaced by another session gives up (superseded)', async () => {
    const d = delivery();
    await d.start();
    const s = await paymentCall(['card', 'expiry', 'cvv']);
    const payment = (id: string, status: 'open' | 'completed') => ({ id, status, blanket: false, fields: [], createdAt: 0 });
    const done = (await calls.update(s.callSid, (x) => void (x.payment = payment('PK1', 'completed'))))!;
    gw.answer = () => ({ status: 503, body: {} });
    await d.onCallUpdated(done);
    await waitFor(() => charges().length === 1);
    expect(charges()[0].headers['idempotency-key']).toBe(idempotencyKey(s.callSid, 'gateway', 'PK1'));
    // the agent opens another session before the retry: the call's values are no longer PK1's
    await calls.update(s.callSid, (x) => void (x.payment = payment('PK2', 'open')));
    await waitFor(() => results.some((r) => r.processor === 'gateway'), 5000);
    expect(results.find((r) => r.processor === 'gateway')!.result).toMatchObject({ ok: false });
    expect(charges()).toHaveLength(1);
    expect(JSON.parse((await store.get(keys.delivery(s.callSid, 'gateway')))!)).toMatchObject({ status: 'failed', reason: 'superseded', round: 'PK1' });
  });

  test("a round's answer that arrives after a newer round replaced its record changes nothing; the newer round is sent and its result kept", async () => {
    const audit = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY });
    const d = delivery({ audit });
    await d.start();
    const s = await paymentCall(['card', 'expiry', 'cvv']);
    const completed = (id: string) => ({ id, status: 'completed' as const, blanket: false, fields: [], createdAt: 0 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // the first round's answer is held until the second round is queued; the second's comes at once
    gw.answer = (n) =>
      n === 1
        ? { status: 200, body: { approved: false, reference: 'ch_first' }, until: held }
        : { status: 200, body: { approved: true, reference: 'ch_second' } };
    const key = keys.delivery(s.callSid, 'gateway');
    try {
      await d.onCallUpdated((await calls.update(s.callSid, (x) => void (x.payment = completed('PK1'))))!);
      await waitFor(() => charges().length === 1);
      // the agent took the card again and completed a second session while PK1's request is in flight
      await d.onCallUpdated((await calls.update(s.callSid, (x) => void (x.payment = completed('PK2'))))!);
      expect(JSON.parse((await store.get(key))!)).toMatchObject({ status: 'pending', round: 'PK2', attempts: 0, earlier: ['PK1'] });
    } finally {
      release();
    }
    await waitFor(() => results.length > 0);
    // the second round runs once the first's try ended (its lease): that try, its late answer, is over
    expect(results[0].result).toEqual({ ok: true, status: 200, body: { approved: true, reference: 'ch_second' }, attempts: 1 });
    expect(results).toHaveLength(1);
    expect(charges().map((c) => c.headers['idempotency-key'])).toEqual([
      idempotencyKey(s.callSid, 'gateway', 'PK1'),
      idempotencyKey(s.callSid, 'gateway', 'PK2'),
    ]);
    expect(JSON.parse((await store.get(key))!)).toMatchObject({ status: 'delivered', round: 'PK2', attempts: 1, httpStatus: 200, earlier: ['PK1'] });
    expect(await store.smembers(keys.deliveries())).toEqual([]);
    expect((await calls.get(s.callSid))!.processorResults).toEqual([
      expect.objectContaining({ processor: 'gateway', ok: true, attempts: 1, result: { approved: true, reference: 'ch_second' } }),
    ]);
    // the late answer's line names no value, only that it was dropped
    const line = JSON.parse(logged.lines.find((l) => l.includes('a newer round replaced its record'))!);
    expect(line).toMatchObject({ callSid: s.callSid, processor: 'gateway', outcome: 'delivered', status: 200, attempts: 1 });
    // a three-digit code as a value of its own, not by chance inside a log line's time or a SID's hex (holdsValue)
    for (const text of logged.lines) for (const v of [PAN, CVV, 'ch_first']) expect([v, holdsValue(text, v)]).toEqual([v, false]);
    // the processor answered the first round (it may have charged it): the trail says so, and that it was superseded
    const trail = await audit.verify(s.callSid);
    expect(trail.verified).toBe(true);
    expect(trail.entries.map((e) => [e.type, e.reason, e.httpStatus])).toEqual([
      ['processor.delivered', 'superseded', 200],
      ['processor.delivered', undefined, 200],
    ]);
  });

  test('fails 3 times then succeeds: retried after ~0.5 s, 1 s, 2 s with one Idempotency-Key, delivered once', async () => {
    gw.answer = (n) => (n <= 3 ? { status: 503, body: { error: 'busy' } } : { status: 201, body: { id: 'ch_1' } });
    const d = delivery(); // the default backoff: 500 ms base
    await d.start();
    const s = await paymentCall(['card', 'expiry', 'cvv']);
    await d.onCallUpdated(s);
    await waitFor(() => results.length === 1, 10_000);

    const tries = charges();
    expect(tries).toHaveLength(4);
    expect(new Set(tries.map((t) => t.headers['idempotency-key'])).size).toBe(1);
    const gaps = tries.slice(1).map((t, i) => t.at - tries[i].at);
    const nominal = [500, 1000, 2000];
    gaps.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(nominal[i] * 0.8 - 5);
      // a loaded host runs a timer late, never early: the upper bound leaves it a second
      expect(g).toBeLessThanOrEqual(nominal[i] * 1.2 + 1000);
    });
    expect(results[0].result).toEqual({ ok: true, status: 201, body: { reference: 'ch_1' }, attempts: 4 });
    await sleep(300);
    expect(charges()).toHaveLength(4);

    // nothing that was logged or stored holds a value or the caller's number
    const log = logged.lines.join('');
    for (const secret of [PAN, PHONE, PHONE.slice(1), `"${EXPIRY}"`, `"${CVV}"`, s.fields.card.token!, s.fromToken!]) {
      expect(log).not.toContain(secret);
    }
    expect(log).toContain('"status":503');
    const scan = await scanRedis(prefix);
    for (const { content, key } of scan) {
      for (const secret of [PAN, PHONE, PHONE.slice(1), EXPIRY + '"', CVV + '"']) expect(`${key} ${content}`).not.toContain(secret);
    }
  });

  test('a restart between tries still delivers exactly once', async () => {
    gw.answer = (n) => (n === 1 ? { status: 500 } : { status: 200, body: { ok: 1 } });
    const d1 = delivery({ backoff: { baseMs: 300, maxMs: 1000, maxAttempts: 5 } });
    await d1.start();
    const s = await paymentCall(['card', 'expiry', 'cvv']);
    await d1.onCallUpdated(s);
    await waitFor(() => charges().length === 1);
    await sleep(50);
    await d1.stop();
    await sleep(600); // the retry was due while nothing was running
    expect(charges()).toHaveLength(1);

    // a new process: its own connection, the same Redis
    const store2 = new RedisStore(redisUrl());
    await store2.connect();
    extraStores.push(store2);
    const d2 = delivery({
      store: store2,
      calls: new CallRepository(store2, keys, { vaultTtlSeconds: 900 }),
      backoff: { baseMs: 300, maxMs: 1000, maxAttempts: 5 },
    });
    await d2.start();
    await waitFor(() => results.length === 1);
    await sleep(400);
    expect(charges()).toHaveLength(2);
    expect(charges()[0].headers['idempotency-key']).toBe(charges()[1].headers['idempotency-key']);
    expect(results[0].result).toMatchObject({ ok: true, attempts: 2 });
  });

  test('two instances never send the same delivery, not even concurrently', async () => {
    gw.answer = () => ({ status: 200, body: {}, delayMs: 300 });
    const stores = await Promise.all(
      [0, 1, 2].map(async () => {
        const st = new RedisStore(redisUrl());
        await st.connect();
        extraStores.push(st);
        return st;
      }),
    );
    const ds = stores.map((st) => delivery({ store: st, calls: new CallRepository(st, keys, { vaultTtlSeconds: 900 }), pollMs: 50 }));
    await Promise.all(ds.map((d) => d.start()));
    const s = await paymentCall(['card', 'expiry', 'cvv']);
    await Promise.all(ds.map((d) => d.onCallUpdated(s)));
    await waitFor(() => results.length >= 1);
    await sleep(800);
    expect(charges()).toHaveLength(1);
    expect(results).toHaveLength(1);
  });

  test('the agent is told an allow-listed summary of the answer, never its text (issue 11 item 2)', async () => {
    // everything a careless processor might say about what it was sent, in every slot
    const raw =
      '{"approved": false, "status": "declined", "code": "05", "reference": "ch_9xYz", "message": "cvv 737 does not match",' +
      ' "card": "4111 1111 1111 1111", "masked": "411111******1111", "phone": "(555) 123-4567", "ref": 4111111111111111111,' +
      ' "detail": {"reference": "555-123-4567"}}';
    gw.answer = () => ({ status: 200, raw });
    const d = delivery();
    await d.start();
    await d.onCallUpdated(await paymentCall(['card', 'expiry', 'cvv']));
    await waitFor(() => results.some((r) => r.processor === 'gateway'));
    const got = results.find((r) => r.processor === 'gateway')!.result;
    expect(got).toEqual({ ok: true, status: 200, body: { approved: false, status: 'declined', code: '05', reference: 'ch_9xYz' }, attempts: 1 });
    // the call SID is random hex and may hold any of these digits by chance: only what the agent is told of the answer is searched
    const text = JSON.stringify(results.map((r) => r.result));
    for (const leak of ['737', '4111', '411111', '555', '1234567']) expect(text).not.toContain(leak);
  });

  test('a processor that never answers 2xx gets maxAttempts tries, then the agent is told it failed', async () => {
    gw.answer = () => ({ status: 502, body: { error: 'down' } });
    const d = delivery({ backoff: { baseMs: 20, maxMs: 100, maxAttempts: 5 } });
    await d.start();
    const s = await paymentCall(['card', 'expiry', 'cvv']);
    await d.onCallUpdated(s);
    await waitFor(() => results.length === 1);
    expect(results[0].result).toEqual({ ok: false, status: 502, attempts: 5 });
    await sleep(300);
    expect(charges()).toHaveLength(5);
    expect(JSON.parse((await store.get(keys.delivery(s.callSid, 'gateway')))!)).toMatchObject({ status: 'failed', attempts: 5 });
    expect(await store.smembers(keys.deliveries())).toEqual([]);
  });

  test('network errors are retried like failures', async () => {
    const down = 'http://127.0.0.1:1/charge';
    const d = delivery({
      processors: parseProcessors('t.yaml', `processors: [{ name: gateway, url: "${down}", secretEnv: GW, fields: [card] }]`, { GW: SECRET }),
      backoff: { baseMs: 10, maxMs: 50, maxAttempts: 5 },
    });
    await d.start();
    await d.onCallUpdated(await paymentCall(['card']));
    await waitFor(() => results.length === 1);
    expect(results[0].result).toEqual({ ok: false, attempts: 5 });
    expect(logged.lines.join('')).toContain('"reason":"network"');
  });

  test('a delivery queued before start() is sent by start(); one whose call is gone is dropped', async () => {
    const d = delivery();
    const s = await paymentCall(['card', 'expiry', 'cvv']);
    await d.onCallUpdated(s);
    const gone = await paymentCall(['card', 'expiry', 'cvv']);
    await d.onCallUpdated(gone);
    await calls.remove(gone);
    await sleep(100);
    expect(gw.received).toHaveLength(0);
    await d.start();
    await waitFor(() => results.length === 1);
    await sleep(200);
    expect(charges().map((c) => JSON.parse(c.body).callSid)).toEqual([s.callSid]);
    expect(await store.get(keys.delivery(gone.callSid, 'gateway'))).toBeNull();
  });

  test('an expired or erased value is never sent; the agent is told the delivery failed', async () => {
    const d = delivery();
    const s = await paymentCall(['card', 'expiry', 'cvv']);
    await vault.erase(s.fields.cvv.token!);
    await d.start();
    await d.onCallUpdated(s);
    await waitFor(() => results.length === 1);
    expect(results[0].result).toEqual({ ok: false, attempts: 0 });
    expect(gw.received).toHaveLength(0);
  });

  test('with an audit trail, the outcome is recorded on the call without any value', async () => {
    const audit = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY });
    gw.answer = (n) => (n === 1 ? { status: 500 } : { status: 200, body: {} });
    const d = delivery({ audit, backoff: { baseMs: 20, maxMs: 100, maxAttempts: 5 } });
    await d.start();
    const s = await paymentCall(['card', 'expiry', 'cvv']);
    await d.onCallUpdated(s);
    await waitFor(() => results.length === 1);
    const trail = await audit.verify(s.callSid);
    expect(trail.verified).toBe(true);
    expect(trail.entries.map((e) => [e.type, e.processor, e.httpStatus, e.attempts])).toEqual([['processor.delivered', 'gateway', 200, 2]]);
  });
});
