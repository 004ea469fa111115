/**
 * tonewall_store_up: the store pinged at each scrape, as /readyz pings it, so an operator's alert
 * (deploy/prometheus: TonewallStoreDown) hears of a store outage with no calls running, where the
 * webhooks' safe fallbacks only count the calls that met it. On a Redis of the test's own.
 */
import { metricValue, waitFor } from '../../support/harness';
import { privateRedisHarness } from '../../support/private-redis';

const onRedis = privateRedisHarness();

test('reads 1 while Redis answers, 0 while it is stopped or answers nothing, and 1 again once it is back', async () => {
  expect(await metricValue(onRedis.h, 'tonewall_store_up')).toBe(1);
  await onRedis.redis.stop();
  expect(await metricValue(onRedis.h, 'tonewall_store_up')).toBe(0);
  expect((await fetch(`${onRedis.h.url}/readyz`)).status).toBe(503);
  await onRedis.redis.up();
  await waitForUp();
  // a Redis that takes commands and answers none (SIGSTOP): the scrape still answers, with 0
  onRedis.redis.freeze();
  try {
    expect(await metricValue(onRedis.h, 'tonewall_store_up')).toBe(0);
  } finally {
    onRedis.redis.thaw();
  }
  await waitForUp();
}, 30_000);

const waitForUp = () => waitFor(async () => (await metricValue(onRedis.h, 'tonewall_store_up')) === 1, 'the store answering again', 10_000);
