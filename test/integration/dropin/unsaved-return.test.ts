/**
 * A drop-in step fails while the store is down for the whole step, and the store comes back with
 * its data (a redis-server with an append-only file, killed and started again): the app got the
 * call back with `Result=internal-error`, and the store still holds the capture as running, with
 * its hang-up watch. When the call ends in the app's hands, no `caller-hung-up` may follow: the
 * app gets exactly one result, and the store ends up saying what the app was told.
 */
import type { EmulatedCall, GatherRequest } from '../../../tools/emulator';
import { RETURN_RETRY_MS } from '../../../src/dropin/unsaved-returns';
import { makeKeys } from '../../../src/store';
import { CARD, cardCaptureFlow, startDropinShop, verified, type DropinShop } from '../../support/dropin';
import { sleep, waitFor } from '../../support/harness';
import { PrivateRedis } from '../../support/private-redis';
import { uniquePrefix } from '../../support/redis';
import { holdsValue } from '../../support/values';

let redis: PrivateRedis;
let d: DropinShop;

beforeAll(async () => {
  redis = await PrivateRedis.start({ persist: true });
  d = await startDropinShop({ 'card-capture': cardCaptureFlow() }, { env: { REDIS_URL: redis.url }, keyPrefix: uniquePrefix('dropin-unsaved') });
}, 30_000);

afterAll(async () => {
  if (redis.down) await redis.up();
  await d?.close();
  await redis.close();
});

beforeEach(() => d.shop.reset());

afterEach(async () => {
  if (redis.down) await redis.up();
  await storeBack();
});

async function storeBack(): Promise<void> {
  await waitFor(async () => (await fetch(`${d.h.url}/readyz`)).status === 200, 'the service to reach the store again', 10_000);
}

/** the store goes as the caller is asked for the card, before the keys reach tonewall: the gather's step fails */
function storeDownAtCard(g: GatherRequest): Promise<string | null> | string | null {
  if (!g.prompt.join(' ').includes('card number')) return null;
  return redis.stop().then(() => `${CARD}#`);
}

/** once the store holds a result for the call and no watch (whichever wrote it), and a result POST had time to go */
async function settled(c: EmulatedCall): Promise<void> {
  const keys = makeKeys(d.h.keyPrefix);
  await waitFor(async () => (await d.h.app.services.calls.get(c.sid))?.dropin?.result, "the call's result to be saved", 10_000);
  await waitFor(async () => (await d.h.redisStore!.get(keys.dropinWatch(c.sid))) === null, 'the watch to be removed', 10_000);
  await sleep(1_000);
}

async function expectOneResult(c: EmulatedCall): Promise<void> {
  expect(d.shop.returned.map((r) => (r.fromTwilio ? verified(r).Result : `POST ${r.body.Result}`))).toEqual(['internal-error']);
  expect(await d.h.app.services.calls.get(c.sid)).toMatchObject({ state: 'returned', dropin: { result: 'internal-error' } });
  const returns = (await d.h.app.services.audit.list(c.sid)).filter((e) => (e as { type?: unknown }).type === 'dropin.returned');
  expect(returns).toEqual([expect.objectContaining({ result: 'internal-error', flowId: 'card-capture' })]);
  const lines = d.h.logs.lines.filter((l) => l.includes(c.sid));
  expect(lines.some((l) => l.includes('drop-in return not saved') && l.includes('TW_ERR_STORE_UNAVAILABLE'))).toBe(true);
  expect(lines.some((l) => l.includes('drop-in return saved once the store answered again'))).toBe(true);
  expect(holdsValue(d.h.logs.text, CARD)).toBe(false);
}

it('the store comes back while the app holds the call, then the call ends: the app has internal-error and nothing after it', async () => {
  d.shop.onReturn = async () => {
    d.shop.onReturn = undefined;
    await redis.up();
    await storeBack();
    // the app keeps the call past tonewall's next retry of the return, then hangs up
    await sleep(RETURN_RETRY_MS * 2);
  };
  const c = await d.call(storeDownAtCard);
  await c.ended;
  await settled(c);
  await expectOneResult(c);
});

it('the call ends in the app while the store is still down, then the store comes back: the watch reports no hang-up', async () => {
  const c = await d.call(storeDownAtCard);
  await c.ended;
  expect(d.shop.returned).toHaveLength(1);
  await redis.up();
  await storeBack();
  await settled(c);
  await expectOneResult(c);
});
