/**
 * A collection's TTL only grows (the subject index, which must outlive every key of the call it
 * leads to: calls/repository.ts subjectIndexOps), and grows to the millisecond: the check was on
 * Redis's TTL, rounded to the nearest second, so an index 0.4 s short of the asked TTL read as
 * long enough and was not renewed, while the record written in the same step got the whole TTL,
 * and outlived its index (seen: privacy/long-vault-ttl.test.ts, now and then).
 */
import { privateRedisStore } from '../../support/private-redis';

const s = privateRedisStore();

test('a set renewed 300 ms after it was written has the whole TTL again, as the key written with it', async () => {
  await s.store.sadd('grow:index', 'a', 100);
  await new Promise((r) => setTimeout(r, 300));
  await s.store.multi([
    { op: 'set', key: 'grow:record', value: 'v', ttlSeconds: 100 },
    { op: 'sadd', key: 'grow:index', member: 'b', ttlSeconds: 100 },
  ]);
  const index = await s.store.client.pttl('grow:index');
  const record = await s.store.client.pttl('grow:record');
  expect(index).toBeGreaterThanOrEqual(record);
  expect(index).toBeGreaterThan(99_800);
});
