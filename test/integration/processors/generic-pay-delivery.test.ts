/**
 * Delivery to a twilio-generic-pay processor on a real Redis and a real HTTP gateway: what is
 * retried and what is not. An answer that is not the connector's fails at once (another try
 * would not change it); a call whose fields cannot fill the connector's sends nothing; an
 * outage is retried with one transaction_id. No value in any log line.
 */
import { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import { cancelDeliveries, type DeliveryResult, parseProcessors, ProcessorDelivery } from '../../../src/processors';
import { transactionId } from '../../../src/processors/generic-pay';
import type { RedisStore } from '../../../src/store';
import type { Keys } from '../../../src/store';
import type { Vault } from '../../../src/vault';
import { captureLog, field, makeSession, redisFixture } from '../../support/fixtures';
import { type Gateway, startGateway, waitFor } from '../../support/gateway';

const PAN = '4111111111111111';
const EXPIRY = '1230';
const CVV = '737';
const FAST = { baseMs: 50, maxMs: 200, maxAttempts: 5 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ProcessorDelivery with protocol: twilio-generic-pay', () => {
  let store: RedisStore;
  let keys: Keys;
  let vault: Vault;
  let calls: CallRepository;
  let gw: Gateway;
  let results: DeliveryResult[];
  let logged: ReturnType<typeof captureLog>;
  let d: ProcessorDelivery;

  beforeEach(async () => {
    ({ store, keys, vault } = await redisFixture('gpc'));
    calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
    gw = await startGateway();
    results = [];
    logged = captureLog();
    const processors = parseProcessors(
      't.yaml',
      `processors:
  - { name: pay, protocol: twilio-generic-pay, url: "${gw.url}/pay", usernameEnv: U, passwordEnv: P, fields: [card, expiry, cvv], method: charge, amount: "5.00" }
`,
      { U: 'user', P: 'password' },
    );
    d = new ProcessorDelivery({ store, keys, vault, calls, processors, log: logged.log, backoff: FAST, onResult: (_c, _p, r) => results.push(r) });
    await d.start();
  });
  afterEach(async () => {
    await d.stop();
    await gw.close();
    await store.close();
  });

  async function call(kinds: Record<string, CallSession['fields'][string]['kind']>): Promise<CallSession> {
    const s = makeSession();
    const values: Record<string, string> = { card: PAN, expiry: EXPIRY, cvv: CVV };
    for (const [name, kind] of Object.entries(kinds))
      s.fields[name] = field(kind, await vault.put(s.callSid, name, values[name]), { last4: '1111', brand: 'visa' });
    await calls.create(s);
    return s;
  }
  const logText = () => logged.lines.join('');

  test('an outage is retried with one transaction_id and Basic auth on every try', async () => {
    gw.answer = (n) => (n <= 2 ? { status: 502 } : { status: 200, body: { charge_id: 'ch_9', error_code: null, error_message: null } });
    await d.onCallUpdated(await call({ card: 'card-number', expiry: 'expiry', cvv: 'security-code' }));
    await waitFor(() => results.length === 1);
    expect(gw.received).toHaveLength(3);
    expect(new Set(gw.received.map((r) => JSON.parse(r.body).transaction_id)).size).toBe(1);
    for (const r of gw.received) expect(r.headers.authorization).toBe('Basic ' + Buffer.from('user:password').toString('base64'));
    expect(results[0]).toEqual({
      ok: true,
      status: 200,
      attempts: 3,
      body: { approved: true, status: 'charged', reference: 'ch_9', last4: '1111', brand: 'visa' },
    });
    for (const v of [PAN, `"${EXPIRY}"`, `"${CVV}"`, 'password']) expect(logText()).not.toContain(v);
  });

  test('a 2xx that is not the connector answer fails once, without a retry', async () => {
    gw.answer = () => ({ status: 200, raw: '<html>maintenance</html>' });
    await d.onCallUpdated(await call({ card: 'card-number', expiry: 'expiry', cvv: 'security-code' }));
    await waitFor(() => results.length === 1);
    await sleep(300);
    expect(gw.received).toHaveLength(1);
    expect(results[0]).toEqual({ ok: false, status: 200, attempts: 1 });
    expect(logText()).toContain('"reason":"malformed-answer"');
  });

  test('fields that cannot fill the connector request send nothing and fail with a fixed reason', async () => {
    // the flow collected the "expiry" as plain digits: no field of kind expiry
    await d.onCallUpdated(await call({ card: 'card-number', expiry: 'digits', cvv: 'security-code' }));
    await waitFor(() => results.length === 1);
    expect(gw.received).toHaveLength(0);
    expect(results[0]).toEqual({ ok: false, attempts: 0 });
    expect(logText()).toContain('"reason":"field-mapping"');
    expect(logText()).not.toContain(PAN);
  });

  test("what an erasure reads as sent is every round that reached the gateway, a replaced round's too, and nothing of a call that sent nothing", async () => {
    gw.answer = (n) => ({ status: 200, body: { charge_id: `ch_${n}`, error_code: null, error_message: null } });
    const s = await call({ card: 'card-number', expiry: 'expiry', cvv: 'security-code' });
    await d.onCallUpdated(s);
    await waitFor(() => results.length === 1);
    // an agent's payment session completes on the call: its values are a round of their own, whose record replaces the first
    const paid = (await calls.update(s.callSid, (r) => {
      r.payment = { id: 'pay-2', status: 'completed', blanket: false, fields: [], createdAt: Date.now(), endedAt: Date.now() };
    }))!;
    await d.onCallUpdated(paid);
    await waitFor(() => results.length === 2);
    const charged = gw.received.map((r) => JSON.parse(r.body).transaction_id as string);
    expect(charged).toEqual([transactionId(s.callSid, 'pay'), transactionId(s.callSid, 'pay', 'pay-2')]);

    const { sent } = await cancelDeliveries(store, keys, s.callSid, ['pay']);
    expect(sent).toEqual([
      { callSid: s.callSid, processor: 'pay' },
      { callSid: s.callSid, processor: 'pay', round: 'pay-2' },
    ]);
    expect(sent.map((r) => transactionId(r.callSid, r.processor, r.round))).toEqual(charged);
    expect(await store.get(keys.delivery(s.callSid, 'pay'))).toBeNull();

    // a delivery that failed before anything left (no field of kind expiry) reached no one
    const unsent = await call({ card: 'card-number', expiry: 'digits', cvv: 'security-code' });
    await d.onCallUpdated(unsent);
    await waitFor(() => results.length === 3);
    expect((await cancelDeliveries(store, keys, unsent.callSid, ['pay'])).sent).toEqual([]);
  });
});
