/**
 * The call repository on a real Redis: an update based on a session read earlier goes straight
 * to compare-and-set with what was read, and a change made in between is neither lost nor
 * overwritten.
 */
import { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import { makeKeys, RedisStore } from '../../../src/store';
import { redisUrl, uniquePrefix } from '../../support/redis';

let store: RedisStore;
beforeAll(async () => {
  store = new RedisStore(redisUrl());
  await store.connect();
});
afterAll(async () => store.close());

const fresh = (callSid: string): CallSession => ({
  callSid,
  accountSid: 'AC' + '0'.repeat(32),
  flowId: 'f',
  to: '+15005550006',
  fromMasked: '+*******4567',
  subject: 's',
  state: 'ivr',
  step: 0,
  attempt: 1,
  recording: { status: 'none' },
  fields: {},
  handoff: { mode: 'bridge' },
  createdAt: 1,
  updatedAt: 1,
});

it('an update on the basis of a stale read still sees, and keeps, what changed since', async () => {
  const calls = new CallRepository(store, makeKeys(uniquePrefix('repo')));
  const sid = 'CA' + '9'.repeat(32);
  await calls.create(fresh(sid));
  const read = (await calls.get(sid))!;
  // another writer (a status callback) ends the call after our read
  await calls.update(sid, (s) => {
    s.state = 'ended';
  });
  const seen: string[] = [];
  const after = await calls.update(
    sid,
    (s) => {
      seen.push(s.state);
      s.step = 2;
    },
    { basis: read },
  );
  // tried first on what was read ('ivr'), refused, then applied to what is stored
  expect(seen).toEqual(['ivr', 'ended']);
  expect(after).toMatchObject({ state: 'ended', step: 2 });
  expect(await calls.get(sid)).toMatchObject({ state: 'ended', step: 2 });

  // with nothing in between, the read is right the first time
  const again = (await calls.get(sid))!;
  const once: number[] = [];
  await calls.update(sid, (s) => void once.push(s.step), { basis: again });
  expect(once).toEqual([2]);
});
