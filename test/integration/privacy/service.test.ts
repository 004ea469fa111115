/**
 * Subject access and erasure against a real Redis and a real HTTP processor: after erasing a
 * caller with two calls, a scan of Redis finds none of their values, their number, their vault
 * tokens, their call records or their subject hash; only their audit trails, which record it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { AuditTrail } from '../../../src/audit';
import { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import { CALLER_VAULT_FIELD, PrivacyService, subjectHash } from '../../../src/privacy';
import { parseProcessors, ProcessorDelivery, type ProcessorConfig, verifySignature } from '../../../src/processors';
import type { Keys, RedisStore } from '../../../src/store';
import type { Vault } from '../../../src/vault';
import { CaptureRecords } from '../../../src/captures/records';
import { ReplayGuard } from '../../../src/twilio/replay';
import { HangupWatch } from '../../../src/dropin/hangup-watch';
import { ResultDelivery } from '../../../src/dropin/result-delivery';
import { scanRedis } from '../../support/redis';
import { captureLog, field, makeSession, redisFixture } from '../../support/fixtures';
import { type Gateway, startGateway } from '../../support/gateway';
import { TEST_AUDIT_KEY } from '../../support/audit';

const GW_SECRET = 'gw-secret-text-0123456789abcdefghij';
const SUBJECT_SECRET = 'subject-secret-derived-from-agent-jwt-secret';
const PHONE = '+15551234567';
const OTHER_PHONE = '+447700900123';
const CARDS = ['4111111111111111', '5555555555554444'];
const EXPIRY = '1230';
const CVV = '737';

/** until `cond` holds, checked every 10 ms of real time (the test's fake timers do not hold it back) */
async function until(cond: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error('timed out waiting');
    await delay(10);
  }
}

describe('PrivacyService', () => {
  let store: RedisStore;
  let keys: Keys;
  let prefix: string;
  let vault: Vault;
  let calls: CallRepository;
  let audit: AuditTrail;
  let gw: Gateway;
  let processors: ProcessorConfig[];
  let logged: ReturnType<typeof captureLog>;
  let privacy: PrivacyService;
  let replay: ReplayGuard;

  beforeEach(async () => {
    ({ store, keys, prefix, vault } = await redisFixture('privacy'));
    calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
    audit = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY });
    gw = await startGateway();
    processors = parseProcessors(
      'p.yaml',
      `processors:
  - { name: gateway, url: "${gw.url}/charge", secretEnv: GW, fields: [card, expiry, cvv], eraseUrl: "${gw.url}/erase" }
  - { name: crm, url: "${gw.url}/crm", secretEnv: CRM, fields: [account] }
`,
      { GW: GW_SECRET, CRM: 'crm-secret-text-0123456789abcdefgh' },
    );
    logged = captureLog();
    replay = new ReplayGuard(store, keys, Buffer.alloc(32, 7));
    privacy = privacyWith();
  });

  /** the service over this test's store, processors and log, with `over` changed */
  function privacyWith(over: Partial<ConstructorParameters<typeof PrivacyService>[0]> = {}): PrivacyService {
    return new PrivacyService({
      calls,
      vault,
      audit,
      store,
      keys,
      processors,
      replay,
      subjectSecret: SUBJECT_SECRET,
      log: logged.log,
      erasureBackoff: { baseMs: 20, maxMs: 100, maxAttempts: 5 },
      ...over,
    });
  }
  afterEach(async () => {
    await gw.close();
    expect((await scanRedis(prefix)).filter((k) => k.ttl < 0)).toEqual([]);
    await store.close();
  });

  async function callFrom(phone: string, card: string, createdAt: number): Promise<CallSession> {
    const s = makeSession({ subject: subjectHash(SUBJECT_SECRET, phone), fromMasked: '+*******' + phone.slice(-4), createdAt, state: 'bridged' });
    s.fromToken = await vault.put(s.callSid, CALLER_VAULT_FIELD, phone);
    s.fields.card = field('card-number', await vault.put(s.callSid, 'card', card), {
      masked: '************' + card.slice(-4),
      last4: card.slice(-4),
      brand: 'visa',
    });
    s.fields.expiry = field('expiry', await vault.put(s.callSid, 'expiry', EXPIRY));
    s.fields.cvv = field('security-code', await vault.put(s.callSid, 'cvv', CVV), { masked: '***' });
    s.capture = { id: 'cap1', name: 'cvv', kind: 'security-code', status: 'completed' };
    await calls.create(s);
    await audit.append(s.callSid, { type: 'capture.completed', captureId: 'cap1' });
    return s;
  }

  test("access shows the caller's calls masked, and nothing of anyone else", async () => {
    const a = await callFrom(PHONE, CARDS[0], Date.now() - 60_000);
    const b = await callFrom(PHONE, CARDS[1], Date.now());
    await callFrom(OTHER_PHONE, CARDS[0], Date.now());
    const report = await privacy.access(PHONE);
    expect(report.subject).toBe('+*******4567');
    expect(report.calls.map((c) => c.callSid)).toEqual([a.callSid, b.callSid]);
    expect(report.calls[0]).toEqual({
      callSid: a.callSid,
      createdAt: new Date(a.createdAt).toISOString(),
      state: 'bridged',
      fields: {
        card: { kind: 'card-number', masked: '************1111', last4: '1111', brand: 'visa', valid: true },
        expiry: { kind: 'expiry', masked: '****', valid: true },
        cvv: { kind: 'security-code', masked: '***', valid: true },
      },
      // added: what else the record, the vault and the trail hold of the call (test/integration/privacy/access-complete.test.ts)
      flowId: a.flowId,
      handoff: { mode: 'bridge' },
      sealed: [
        { of: 'caller', expiresAt: expect.any(String) },
        { of: 'field', field: 'card', kind: 'card-number', expiresAt: expect.any(String) },
        { of: 'field', field: 'cvv', kind: 'security-code', expiresAt: expect.any(String) },
        { of: 'field', field: 'expiry', kind: 'expiry', expiresAt: expect.any(String) },
      ],
      audit: [{ seq: 1, at: expect.any(String), type: 'capture.completed', captureId: 'cap1' }],
    });
    const text = JSON.stringify(report);
    for (const secret of [CARDS[0], CARDS[1], PHONE, a.fromToken!, a.fields.card.token!]) expect(text).not.toContain(secret);
    expect((await audit.list(a.callSid)).map((e) => e.type)).toEqual(['capture.completed', 'subject.accessed']);
    expect(await privacy.access('+15550000000')).toEqual({ subject: '+*******0000', calls: [] });
    // a caller ID without its '+' is another caller's, as Twilio sent it: none of this one's calls
    expect(await privacy.access('15551234567')).toEqual({ subject: '*******4567', calls: [] });
    await expect(privacy.access('sip:alice@')).rejects.toMatchObject({ statusCode: 400 });
  });

  test('erasure after two calls from one number leaves nothing that names the caller', async () => {
    const a = await callFrom(PHONE, CARDS[0], Date.now() - 60_000);
    const b = await callFrom(PHONE, CARDS[1], Date.now());
    const other = await callFrom(OTHER_PHONE, CARDS[0], Date.now());
    // both calls have a delivery still pending (nothing is sending them)
    const delivery = new ProcessorDelivery({ store, keys, vault, calls, processors, log: logged.log, onResult: () => undefined });
    for (const s of [a, b, other]) await delivery.onCallUpdated(s);
    const hash = subjectHash(SUBJECT_SECRET, PHONE);
    // the scan below can fail: before the erasure the store does name them
    const before = (await scanRedis(prefix)).map((k) => `${k.key}\n${k.content}`).join('\n');
    for (const f of [hash, a.callSid, b.callSid, a.fromToken!, b.fields.card.token!]) expect(before).toContain(f);

    const receipt = await privacy.erase(PHONE);
    expect(receipt).toEqual({
      receiptId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      subject: '+*******4567',
      erasedAt: expect.any(String),
      calls: 2,
      values: 8,
      deliveriesCancelled: 2,
      processors: [
        { name: 'gateway', status: 'forwarded', httpStatus: 200 },
        { name: 'crm', status: 'no-erase-url' },
      ],
    });

    // the processor's eraseUrl got one signed request naming the caller and the receipt
    const erase = gw.received.filter((r) => r.path === '/erase');
    expect(erase).toHaveLength(1);
    expect(JSON.parse(erase[0].body)).toEqual({ purpose: 'erasure', subject: PHONE, receiptId: receipt.receiptId });
    expect(verifySignature(erase[0].headers['x-tonewall-signature'] as string, erase[0].body, GW_SECRET, 60)).toBe(true);
    expect(erase[0].headers['idempotency-key']).toMatch(/^[0-9a-f]{64}$/);

    // a scan of Redis: nothing of theirs, except audit trails that record the erasure
    const scan = await scanRedis(prefix);
    const forbidden = [PHONE, PHONE.slice(1), CARDS[0], CARDS[1], hash];
    for (const s of [a, b]) forbidden.push(s.fromToken!, ...Object.values(s.fields).map((f) => f.token!));
    for (const { key, content } of scan) {
      for (const f of forbidden) expect(`${key}\n${content}`).not.toContain(f);
      for (const s of [a, b]) {
        // the audit trail and the export's day index of trails (no personal data) are kept
        if (key === keys.audit(s.callSid) || key.startsWith(keys.auditDay(''))) continue;
        expect(`${key}\n${content}`).not.toContain(s.callSid);
      }
    }
    for (const s of [a, b]) {
      expect(await calls.get(s.callSid)).toBeNull();
      for (const f of Object.values(s.fields)) expect(await vault.get(s.callSid, 'x', f.token!)).toBeNull();
      const trail = await audit.verify(s.callSid);
      expect(trail.verified).toBe(true);
      expect(trail.entries.at(-1)).toMatchObject({ type: 'subject.erased', receiptId: receipt.receiptId });
    }
    expect(await store.get(keys.erasure(hash))).toBeNull();

    // someone else's call and values are untouched
    expect(await calls.get(other.callSid)).not.toBeNull();
    expect(await vault.get(other.callSid, 'card', other.fields.card.token!)).toBe(CARDS[0]);
    expect(await store.get(keys.delivery(other.callSid, 'gateway'))).not.toBeNull();

    // access then shows nothing; the log holds no number or value
    expect(await privacy.access(PHONE)).toEqual({ subject: '+*******4567', calls: [] });
    const log = logged.lines.join('');
    for (const f of [PHONE, PHONE.slice(1), CARDS[0], CARDS[1]]) expect(log).not.toContain(f);
  });

  test('an eraseUrl that keeps failing is retried and reported as failed', async () => {
    gw.answer = () => ({ status: 500 });
    await callFrom(PHONE, CARDS[0], Date.now());
    const receipt = await privacy.erase(PHONE);
    expect(receipt.calls).toBe(1);
    expect(receipt.processors).toEqual([
      { name: 'gateway', status: 'failed', httpStatus: 500 },
      { name: 'crm', status: 'no-erase-url' },
    ]);
    expect(gw.received.filter((r) => r.path === '/erase')).toHaveLength(5);
  });

  test('a delivery try that never releases its lease (its instance died mid-request) holds the erasure back no longer than the wait, then it is forwarded, logged', async () => {
    const s = await callFrom(PHONE, CARDS[0], Date.now());
    // a try of another instance holds the lease, as while its POST is on its way
    await store.set(keys.deliveryLease(s.callSid, 'gateway'), 'another-instance', 60);
    const waitMs = 300;
    const quick = privacyWith({ sendingWaitMs: waitMs });
    const started = Date.now();
    const receipt = await quick.erase(PHONE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(waitMs);
    expect(receipt.processors[0]).toEqual({ name: 'gateway', status: 'forwarded', httpStatus: 200 });
    expect(logged.lines.some((l) => l.includes('delivery still sending after the erasure') && l.includes('"deliveries":1'))).toBe(true);
    // the lease is the try's to release (or to expire): the erasure left it, and it names no one
    expect(await store.get(keys.deliveryLease(s.callSid, 'gateway'))).toBe('another-instance');
    await store.del(keys.deliveryLease(s.callSid, 'gateway'));
  });

  test("a drop-in result's try that never releases its lease holds the erasure back no longer than the wait, logged", async () => {
    const s = await callFrom(PHONE, CARDS[0], Date.now());
    // another instance's try of the call's caller-hung-up result, as while its POST is on its way
    await store.set(keys.dropinResultLease(s.callSid), 'another-instance', 60);
    const waitMs = 300;
    const started = Date.now();
    const receipt = await privacyWith({ sendingWaitMs: waitMs }).erase(PHONE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(waitMs);
    expect(receipt).toMatchObject({ calls: 1 });
    expect(logged.lines.some((l) => l.includes('delivery still sending after the erasure') && l.includes('"results":1'))).toBe(true);
    expect(await store.get(keys.dropinResultLease(s.callSid))).toBe('another-instance');
    await store.del(keys.dropinResultLease(s.callSid));
  });

  test('a drop-in result queued while the erasure runs, its first try failed before the record went, is not retried after it', async () => {
    const a = await callFrom(PHONE, CARDS[0], Date.now());
    gw.answer = (_n, req) => ({ status: req.path === '/paid' ? 500 : 200 });
    const paid = () => gw.received.filter((r) => r.path === '/paid');
    // The delivery loop's timers and the clock are fake, so that its retry comes due when the
    // test moves time on: after the erasure, however long the erasure takes. (On real time a
    // retry due during the erasure is sent then, before the result is removed, and the erasure
    // waits for it: a second POST that is not the one this test is about.) Redis, HTTP and the
    // erasure's wait for a try still sending run on real time.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask', 'hrtime', 'performance'] });
    const results = new ResultDelivery({
      store,
      keys,
      audit,
      log: logged.log,
      secret: () => 'result-secret',
      returnUrls: [gw.url],
      backoff: { baseMs: 100, maxMs: 100, maxAttempts: 5 },
      callExists: async (sid) => (await calls.get(sid)) !== null,
    });
    let retryAt = Infinity;
    try {
      await results.start();
      // between the erasure's first removal of the call's result and its removal of the record:
      // a hang-up that read the record before the erasure queues the result, and its first try
      // (the record still there) fails; its retry is due after the erasure
      const erasing = privacyWith({
        replay: {
          forget: async (sid) => {
            await replay.forget(sid);
            const params = { CallSid: sid, Result: 'caller-hung-up', card_masked: a.fields.card.masked, card_token: a.fields.card.token! };
            expect(await results.enqueue(sid, `${gw.url}/paid`, params)).toBe(true);
            // its first try is due now
            jest.advanceTimersByTime(0);
            // sent, failed, and over: its lease released once its retry is scheduled
            await until(async () => paid().length === 1 && (await store.get(keys.dropinResultLease(sid))) === null);
            const pending = z
              .object({ status: z.literal('pending'), attempts: z.literal(1), nextAt: z.number() })
              .parse(JSON.parse((await store.get(keys.dropinResult(sid))) ?? 'null'));
            expect(pending.nextAt).toBeGreaterThan(Date.now());
            retryAt = pending.nextAt;
          },
        },
      });
      await erasing.erase(PHONE);
      expect(paid()).toHaveLength(1);
      // the retry comes due: the delivery loop runs it, and stop waits for that run to end
      jest.advanceTimersByTime(retryAt - Date.now());
      await results.stop();
      expect(paid()).toHaveLength(1);
      expect(await store.get(keys.dropinResult(a.callSid))).toBeNull();
      expect(await store.smembers(keys.dropinResults())).toEqual([]);
    } finally {
      jest.useRealTimers();
      await results.stop();
    }
  });

  test('a caller with nothing stored still gets a receipt and the erasure is still forwarded', async () => {
    const receipt = await privacy.erase(PHONE);
    expect(receipt).toMatchObject({ calls: 0, values: 0, deliveriesCancelled: 0 });
    expect(receipt.processors[0]).toEqual({ name: 'gateway', status: 'forwarded', httpStatus: 200 });
  });

  test('two erasures of one caller at once: the second is refused with 409', async () => {
    await callFrom(PHONE, CARDS[0], Date.now());
    gw.answer = () => ({ status: 200, delayMs: 200 });
    const [first, second] = await Promise.allSettled([privacy.erase(PHONE), privacy.erase(PHONE)]);
    const outcomes = [first, second].map((r) => r.status);
    expect(outcomes.sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = [first, second].find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ statusCode: 409 });
  });
  test('erasure also removes values a second capture replaced, every capture record and the remembered webhook answers', async () => {
    const a = await callFrom(PHONE, CARDS[0], Date.now());
    // the agent captured the card again: the record names the new token only, the old value is still in the vault
    const replaced = a.fields.card.token!;
    a.fields.card = field('card-number', await vault.put(a.callSid, 'card', CARDS[1]), { masked: '************4444', last4: '4444', brand: 'mastercard' });
    a.capture = { id: 'cap2', name: 'card', kind: 'card-number', status: 'completed' };
    await calls.save(a);
    // two capture records: the one the record names and an earlier one
    const records = new CaptureRecords(store, keys);
    for (const captureId of ['cap1', 'cap2']) {
      await records.save({
        callSid: a.callSid,
        captureId,
        name: 'card',
        kind: 'card-number',
        status: 'completed',
        entered: 16,
        masked: '*'.repeat(16),
        startedAt: 0,
        blanket: false,
      });
    }
    // answers the replay guard remembers for the call's webhooks (TwiML that names the call)
    const voice = { callSid: a.callSid, parts: ['voice'] };
    expect(await replay.claim(voice)).toEqual({ first: true });
    await replay.remember(voice, { status: 200, contentType: 'text/xml', body: `<Response><Parameter name="callSid" value="${a.callSid}"/></Response>` });
    await replay.remember({ callSid: a.callSid, parts: ['gather', '1', '1'] }, { status: 200, contentType: 'text/xml', body: '<Response/>' });
    expect(await vault.get(a.callSid, 'card', replaced)).toBe(CARDS[0]);
    expect(await store.get(replay.recordKey(a.callSid))).not.toBeNull();

    const receipt = await privacy.erase(PHONE);
    expect(receipt).toMatchObject({ calls: 1, values: 5 });

    expect(await vault.get(a.callSid, 'card', replaced)).toBeNull();
    for (const captureId of ['cap1', 'cap2']) expect(await records.get(a.callSid, captureId)).toBeNull();
    expect(await store.get(replay.recordKey(a.callSid))).toBeNull();
    // a replay of the call's first webhook is no longer answered from memory
    expect(await replay.claim(voice)).toEqual({ first: true });
    await replay.forget(a.callSid);
    const scan = await scanRedis(prefix);
    for (const { key, content } of scan) {
      // audit trails (and their day index) are kept for assessors by design (CONTRACT §7)
      if (key === keys.audit(a.callSid) || key.startsWith(keys.auditDay(''))) continue;
      for (const f of [a.callSid, replaced, CARDS[0], CARDS[1], PHONE]) expect(`${key}\n${content}`).not.toContain(f);
    }
  });

  test("erasure removes a drop-in capture's hang-up watch and its result POST still pending (masked views and tokens)", async () => {
    const a = await callFrom(PHONE, CARDS[0], Date.now());
    const other = await callFrom(OTHER_PHONE, CARDS[1], Date.now());
    // neither is started: the watch and the delivery wait in the store, as a stopped instance leaves them
    const watch = new HangupWatch({ store, keys, calls, twilio: {} as never, log: logged.log, pollMs: 5_000, onEnded: async () => undefined });
    const results = new ResultDelivery({ store, keys, audit, log: logged.log, secret: () => 'result-secret', returnUrls: ['https://shop.example.com'] });
    for (const s of [a, other]) {
      await watch.add(s.callSid);
      const params = { CallSid: s.callSid, Result: 'caller-hung-up', card_masked: s.fields.card.masked, card_token: s.fields.card.token! };
      expect(await results.enqueue(s.callSid, 'https://shop.example.com/paid', params)).toBe(true);
    }

    await privacy.erase(PHONE);

    expect(await store.get(keys.dropinWatch(a.callSid))).toBeNull();
    expect(await store.get(keys.dropinResult(a.callSid))).toBeNull();
    expect(await store.smembers(keys.dropinWatches())).toEqual([other.callSid]);
    expect(await store.smembers(keys.dropinResults())).toEqual([other.callSid]);
    expect(await store.get(keys.dropinResult(other.callSid))).toContain(other.fields.card.token!);
    for (const { key, content } of await scanRedis(prefix)) {
      if (key === keys.audit(a.callSid) || key.startsWith(keys.auditDay(''))) continue;
      for (const f of [a.callSid, a.fields.card.token!]) expect(`${key}\n${content}`).not.toContain(f);
    }
  });
});
