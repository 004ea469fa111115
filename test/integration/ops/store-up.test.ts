/**
 * tonewall_store_up: the store pinged at each scrape, as /readyz pings it, so an operator's alert
 * (deploy/prometheus: TonewallStoreDown) hears of a store outage with no calls running, where the
 * webhooks' safe fallbacks only count the calls that met it. On a Redis of the test's own.
 */
import { metricValue, startHarness, waitFor, type Harness } from '../../support/harness';
import { PrivateRedis } from '../../support/private-redis';

let redis: PrivateRedis;
let h: Harness;
beforeAll(async () => {
  redis = await PrivateRedis.start();
  h = await startHarness({ env: { REDIS_URL: redis.url } });
}, 30_000);
afterAll(async () => {
  if (redis.down) await redis.up();
  await h?.close();
  await redis?.close();
});

test('reads 1 while Redis answers, 0 while it is stopped or answers nothing, and 1 again once it is back', async () => {
  expect(await metricValue(h, 'tonewall_store_up')).toBe(1);
  await redis.stop();
  expect(await metricValue(h, 'tonewall_store_up')).toBe(0);
  expect((await fetch(`${h.url}/readyz`)).status).toBe(503);
  await redis.up();
  await waitForUp();
  // a Redis that takes commands and answers none (SIGSTOP): the scrape still answers, with 0
  redis.freeze();
  try {
    expect(await metricValue(h, 'tonewall_store_up')).toBe(0);
  } finally {
    redis.thaw();
  }
  await waitForUp();
}, 30_000);

const waitForUp = () => waitFor(async () => (await metricValue(h, 'tonewall_store_up')) === 1, 'the store answering again', 10_000);
