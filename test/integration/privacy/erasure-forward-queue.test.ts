/**
 * An erasure a twilio-generic-pay gateway does not acknowledge within the forward's own tries is
 * kept in the store and retried, by this or any other instance, until it is: its transaction ids
 * are read from the delivery records the erasure removes, so once the forward gave up nothing
 * held named them, and a repeated erasure told that gateway nothing. Real Redis, real HTTP: the
 * gateway's eraseUrl refuses until it is back; another queue (an instance started afterwards)
 * then sends the kept body, signed, under the same Idempotency-Key. What is kept names no caller.
 * A tonewall-protocol forward, whose body names the caller, is kept sealed with the vault's keys:
 * one no instance can open, or the processor keeps refusing, is given up and removed.
 */
import { AuditTrail } from '../../../src/audit';
import { CallRepository } from '../../../src/calls/repository';
import { subjectHash } from '../../../src/privacy';
import {
  ErasureQueue,
  parseProcessors,
  verifyProcessorRequest,
  type DeliveryRecord,
  type ErasureQueueDeps,
  type ProcessorConfig,
} from '../../../src/processors';
import { transactionId } from '../../../src/processors/generic-pay';
import { generateKeyRingText, parseKeyRing } from '../../../src/vault';
import { TEST_AUDIT_KEY } from '../../support/audit';
import { captureLog, eachRedisFixture, makeSession, privacyService } from '../../support/fixtures';
import { CHARGER_SECRET, eachChargerGateway, type Gateway } from '../../support/gateway';
import { scanRedis } from '../../support/redis';

const SUBJECT_SECRET = 'subject-secret-for-kept-erasures';
const PHONE = '+15557778888';
const FAST = { baseMs: 10, maxMs: 20, maxAttempts: 5 };

const fx = eachRedisFixture('erase-queue');
const charger = eachChargerGateway();

/** an instance's queue of kept forwards on the fixture's store and vault keys, `own` for what this instance has of its own */
function queueOf(processors: ProcessorConfig[], own: Partial<ErasureQueueDeps> = {}): ErasureQueue {
  const { store, keys, vaultKeys } = fx;
  return new ErasureQueue({ store, keys, vaultKeys, processors, log: captureLog().log, backoff: FAST, ...own });
}

/** the erasure service on the fixture's store and vault, what it cannot forward kept in `erasureQueue` */
function eraser(calls: CallRepository, processors: ProcessorConfig[], erasureQueue: ErasureQueue) {
  const { store, keys, vault } = fx;
  const audit = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY });
  return privacyService({ calls, vault, audit, store, keys, processors, subjectSecret: SUBJECT_SECRET, erasureBackoff: FAST, erasureQueue });
}

/** `queue` polled each time its retry is due, until it told an outcome */
async function pollUntilOutcome(queue: ErasureQueue, outcomes: unknown[]): Promise<void> {
  while (outcomes.length === 0) {
    await new Promise((r) => setTimeout(r, FAST.maxMs * 2));
    await queue.poll();
  }
}

test('a forward the gateway refused is kept, names no caller, and is sent by the next instance once the gateway is back', async () => {
  const { store, keys, prefix } = fx;
  const { gw, processors } = charger;
  const calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
  const subject = subjectHash(SUBJECT_SECRET, PHONE);
  // a call of the caller's whose card reached the gateway (a try was counted)
  const s = makeSession({ subject });
  await calls.create(s);
  const now = Date.now();
  const delivered: DeliveryRecord = {
    v: 1,
    callSid: s.callSid,
    processor: 'charger',
    status: 'delivered',
    attempts: 1,
    nextAt: now,
    createdAt: now,
    updatedAt: now,
  };
  await store.set(keys.delivery(s.callSid, 'charger'), JSON.stringify(delivered), 900);

  const first = queueOf(processors);
  const privacy = eraser(calls, processors, first);

  gw.answer = () => ({ status: 503 });
  const receipt = await privacy.erase(PHONE);
  expect(receipt.processors).toEqual([{ name: 'charger', status: 'retrying', httpStatus: 503 }]);
  const refused = gw.received.filter((r) => r.path === '/erase');
  expect(refused).toHaveLength(FAST.maxAttempts);

  // kept: ids only, never the caller
  const kept = (await scanRedis(prefix)).filter(({ key }) => key.includes(':erasefwd:'));
  expect(kept.length).toBeGreaterThan(0);
  for (const { content } of kept) expect(content).not.toContain(PHONE.slice(1));

  // the instance is gone; another, started after, finds the forward and the gateway answering
  gw.answer = () => ({ status: 200, body: { ok: true } });
  const outcomes: [string, string][] = [];
  const next = queueOf(processors, { onOutcome: (p, o) => void outcomes.push([p, o]) });
  await new Promise((r) => setTimeout(r, FAST.maxMs * 2));
  await next.poll();
  expect(outcomes).toEqual([['charger', 'forwarded']]);
  const sent = gw.received.filter((r) => r.path === '/erase').slice(refused.length);
  expect(sent).toHaveLength(1);
  expect(sent[0].headers['idempotency-key']).toBe(refused[0].headers['idempotency-key']);
  expect(sent[0].body).toBe(refused[0].body);
  expect(verifyProcessorRequest(String(sent[0].headers['x-tonewall-signature']), sent[0].body, CHARGER_SECRET, 'erasure')).toBeTruthy();
  expect(JSON.parse(sent[0].body)).toEqual({ purpose: 'erasure', transactionIds: [transactionId(s.callSid, 'charger')], receiptId: receipt.receiptId });

  // acknowledged: nothing kept, and no further try
  expect((await scanRedis(prefix)).filter(({ key }) => key.includes(':erasefwd:'))).toEqual([]);
  await next.poll();
  expect(gw.received.filter((r) => r.path === '/erase')).toHaveLength(refused.length + 1);
});

test('a kept forward another instance acknowledged while this one read it is not sent again, nor counted twice', async () => {
  const { store, keys, prefix } = fx;
  const { gw, processors } = charger;
  const outcomes: [string, string][] = [];
  const onOutcome = (p: string, o: string) => void outcomes.push([p, o]);
  const receiptId = 'receipt-raced';
  const recordKey = keys.erasureForward(receiptId, 'charger');
  // a forward kept after its own tries, due now
  const held = await queueOf(processors).hold('charger', receiptId, '{"purpose":"erasure"}', 'idem-raced', { namesCaller: false });
  await held.settle(false);
  await new Promise((r) => setTimeout(r, FAST.maxMs * 2));
  gw.answer = () => ({ status: 200, body: { ok: true } });

  // instance A polls it between instance B's read of the record and B's take of its lease
  const a = queueOf(processors, { onOutcome });
  const slowStore = Object.create(store) as typeof store;
  slowStore.get = async (key: string) => {
    const value = await store.get(key);
    if (key === recordKey) await a.poll();
    return value;
  };
  const b = queueOf(processors, { store: slowStore, onOutcome });
  await b.poll();

  // acknowledged once: one request, one count, nothing kept
  expect(gw.received.filter((r) => r.path === '/erase')).toHaveLength(1);
  expect(outcomes).toEqual([['charger', 'forwarded']]);
  expect((await scanRedis(prefix)).filter(({ key }) => key.includes(':erasefwd:'))).toEqual([]);
});

/** `gw` as one tonewall-protocol processor, `ledger`, its erasures forwarded to `/erase` */
function ledgerProcessors(gw: Gateway) {
  return parseProcessors(
    'p.yaml',
    `processors:\n  - { name: ledger, url: "${gw.url}/charge", secretEnv: LEDGER, fields: [card], eraseUrl: "${gw.url}/erase" }\n`,
    { LEDGER: 'ledger-secret-0123456789abcdefghijkl' },
  );
}

test('a kept tonewall forward that cannot be opened (its key not in VAULT_KEYS here) is never sent, and is given up after its retries, counted, with nothing left', async () => {
  const { prefix } = fx;
  const { gw } = charger;
  const processors = ledgerProcessors(gw);
  const body = JSON.stringify({ purpose: 'erasure', subject: PHONE, receiptId: 'receipt-sealed' });
  const held = await queueOf(processors).hold('ledger', 'receipt-sealed', body, 'idem-sealed', { namesCaller: true });
  await held.settle(false);
  for (const { content } of await scanRedis(prefix)) expect(content).not.toContain(PHONE.slice(1));

  // an instance whose VAULT_KEYS lost the key the forward was sealed with (retired too early)
  const outcomes: [string, string][] = [];
  const logged = captureLog();
  const other = queueOf(processors, { vaultKeys: parseKeyRing(generateKeyRingText('k2')), log: logged.log, onOutcome: (p, o) => void outcomes.push([p, o]) });
  // each poll once the retry is due: one try each, the last one given up
  await pollUntilOutcome(other, outcomes);
  expect(outcomes).toEqual([['ledger', 'failed']]);
  expect(gw.received).toEqual([]);
  const lines = logged.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.filter((l) => l.msg === 'erasure forward failed: will retry')).toHaveLength(FAST.maxAttempts - 1);
  expect(lines.find((l) => l.msg === 'erasure forward failed: giving up')).toMatchObject({
    processor: 'ledger',
    receiptId: 'receipt-sealed',
    reason: 'unreadable',
    code: 'TW_ERR_VAULT_KEY_UNKNOWN',
    retries: FAST.maxAttempts,
  });
  expect(logged.lines.join('')).not.toContain(PHONE.slice(1));
  // given up: the kept forward is gone
  expect((await scanRedis(prefix)).filter(({ key }) => key.includes(':erasefwd:'))).toEqual([]);
});

test('a kept tonewall forward the processor keeps refusing is given up after its retries, and nothing of it is left', async () => {
  const { store, keys, prefix } = fx;
  const { gw } = charger;
  const processors = ledgerProcessors(gw);
  const calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
  const outcomes: [string, string][] = [];
  const queue = queueOf(processors, { onOutcome: (p, o) => void outcomes.push([p, o]) });
  const privacy = eraser(calls, processors, queue);
  gw.answer = () => ({ status: 500 });
  const receipt = await privacy.erase(PHONE);
  expect(receipt.processors).toEqual([{ name: 'ledger', status: 'retrying', httpStatus: 500 }]);
  await pollUntilOutcome(queue, outcomes);
  expect(outcomes).toEqual([['ledger', 'failed']]);
  // the forward's own tries and the retries, each the same body under the same key
  const sent = gw.received.filter((r) => r.path === '/erase');
  expect(sent).toHaveLength(2 * FAST.maxAttempts);
  expect(new Set(sent.map((r) => r.body)).size).toBe(1);
  expect(new Set(sent.map((r) => r.headers['idempotency-key'])).size).toBe(1);
  expect(JSON.parse(sent[0].body)).toEqual({ purpose: 'erasure', subject: PHONE, receiptId: receipt.receiptId });
  expect((await scanRedis(prefix)).filter(({ key }) => key.includes(':erasefwd:'))).toEqual([]);
});
