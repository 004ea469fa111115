/**
 * One contract suite, run against both store implementations. Redis is a real redis-server.
 */
import { EmbeddedStore, RedisStore, makeKeys, type Store } from '../../../src/store';
import { redisUrl, scanRedis, uniquePrefix } from '../../support/redis';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Maker = () => Promise<{ store: Store; prefix: string; done: () => Promise<void> }>;

const makers: [string, Maker][] = [
  [
    'embedded',
    async () => {
      const store = new EmbeddedStore();
      return { store, prefix: 'c:', done: () => store.close() };
    },
  ],
  [
    'redis',
    async () => {
      const store = new RedisStore(redisUrl());
      await store.connect();
      return { store, prefix: uniquePrefix('contract'), done: () => store.close() };
    },
  ],
];

describe.each(makers)('store contract: %s', (name, make) => {
  let store: Store;
  let prefix: string;
  let done: () => Promise<void>;
  beforeEach(async () => {
    ({ store, prefix, done } = await make());
  });
  afterEach(async () => {
    if (name === 'redis') {
      const keys = await scanRedis(prefix);
      // a scan of Redis after every test finds no key without a TTL
      expect(keys.filter((k) => k.ttl < 0)).toEqual([]);
    }
    await done();
  });
  const k = (s: string) => prefix + s;

  test('set, get, del and ttl', async () => {
    expect(await store.get(k('a'))).toBeNull();
    await store.set(k('a'), 'one', 60);
    expect(await store.get(k('a'))).toBe('one');
    const ttl = await store.ttl(k('a'));
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
    expect(await store.del(k('a'), k('missing'))).toBe(1);
    expect(await store.get(k('a'))).toBeNull();
    expect(await store.ttl(k('a'))).toBe(-2);
  });

  test('values expire after their TTL', async () => {
    await store.set(k('short'), 'x', 1);
    await store.sadd(k('sshort'), 'm', 1);
    await store.rpush(k('lshort'), 'v', 1);
    await sleep(1150);
    expect(await store.get(k('short'))).toBeNull();
    expect(await store.smembers(k('sshort'))).toEqual([]);
    expect(await store.lrange(k('lshort'), 0, -1)).toEqual([]);
  });

  test('setIfAbsent is first-writer-wins, also under concurrency', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.setIfAbsent(k('nx'), `w${i}`, 60)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(await store.get(k('nx'))).toBe(`w${winner}`);
  });

  test('take returns a value once', async () => {
    await store.set(k('tok'), 'payload', 60);
    const taken = await Promise.all([store.take(k('tok')), store.take(k('tok')), store.take(k('tok'))]);
    expect(taken.filter((t) => t === 'payload')).toHaveLength(1);
    expect(await store.take(k('tok'))).toBeNull();
  });

  test('incr counts and keeps its TTL', async () => {
    expect(await store.incr(k('n'), 60)).toBe(1);
    expect(await store.incr(k('n'), 60)).toBe(2);
    expect(await store.ttl(k('n'))).toBeGreaterThan(0);
  });

  test('update is atomic read-modify-write under concurrency', async () => {
    await store.set(k('counter'), '0', 60);
    await Promise.all(Array.from({ length: 15 }, () => store.update(k('counter'), (cur) => String(Number(cur) + 1), 60)));
    expect(await store.get(k('counter'))).toBe('15');
    // returning undefined leaves the value alone
    expect(await store.update(k('counter'), () => undefined, 60)).toBe('15');
    expect(await store.update(k('absent'), (cur) => (cur === null ? 'created' : 'x'), 60)).toBe('created');
  });

  test('update with a guess: a right one writes, a wrong one is corrected, and "no change" is never believed on a guess', async () => {
    await store.set(k('g'), 'a', 60);
    const seen: (string | null)[] = [];
    const append = (cur: string | null) => (seen.push(cur), `${cur ?? ''}+`);
    expect(await store.update(k('g'), append, 60, { guess: 'a' })).toBe('a+');
    // a stale guess: the write lands on what the key really holds
    expect(await store.update(k('g'), append, 60, { guess: 'a' })).toBe('a++');
    expect(await store.get(k('g'))).toBe('a++');
    // a guess of "absent" for a key that exists, with a function that would change nothing on it
    const same: (string | null)[] = [];
    const onlyIfAbsent = (cur: string | null) => (same.push(cur), cur === null ? 'created' : undefined);
    expect(await store.update(k('g'), onlyIfAbsent, 60, { guess: 'a++' })).toBe('a++');
    expect(await store.update(k('g'), onlyIfAbsent, 60, { guess: null })).toBe('a++');
    expect(await store.get(k('g'))).toBe('a++');
    expect(same[same.length - 1]).toBe('a++');
    // a wrong guess on which the function would leave the key alone: the real value decides
    expect(await store.update(k('g'), (cur) => (cur === 'stale' ? undefined : 'fixed'), 60, { guess: 'stale' })).toBe('fixed');
    expect(await store.get(k('g'))).toBe('fixed');
  });

  test('sets and lists', async () => {
    await store.sadd(k('s'), 'a', 60);
    await store.sadd(k('s'), 'b', 60);
    await store.sadd(k('s'), 'a', 60);
    expect((await store.smembers(k('s'))).sort()).toEqual(['a', 'b']);
    await store.srem(k('s'), 'a');
    expect(await store.smembers(k('s'))).toEqual(['b']);
    expect(await store.rpush(k('l'), 'x', 60)).toBe(1);
    expect(await store.rpush(k('l'), 'y', 60)).toBe(2);
    expect(await store.lrange(k('l'), 0, -1)).toEqual(['x', 'y']);
    expect(await store.lrange(k('l'), -1, -1)).toEqual(['y']);
    expect(await store.ttl(k('l'))).toBeGreaterThan(0);
  });

  test('a collection TTL only grows', async () => {
    await store.sadd(k('grow'), 'a', 100);
    await store.sadd(k('grow'), 'b', 10);
    expect(await store.ttl(k('grow'))).toBeGreaterThan(90);
  });

  test('multi applies related writes together', async () => {
    await store.set(k('old'), 'x', 60);
    await store.multi([
      { op: 'set', key: k('m1'), value: '1', ttlSeconds: 60 },
      { op: 'sadd', key: k('ms'), member: 'm', ttlSeconds: 60 },
      { op: 'rpush', key: k('ml'), value: 'v', ttlSeconds: 60 },
      { op: 'del', key: k('old') },
      { op: 'expire', key: k('m1'), ttlSeconds: 30 },
    ]);
    expect(await store.get(k('m1'))).toBe('1');
    expect(await store.ttl(k('m1'))).toBeLessThanOrEqual(30);
    expect(await store.smembers(k('ms'))).toEqual(['m']);
    expect(await store.lrange(k('ml'), 0, -1)).toEqual(['v']);
    expect(await store.get(k('old'))).toBeNull();
  });

  test('createWith writes the record and its related writes only when it creates the record', async () => {
    await store.sadd(k('cw-index'), 'old', 100);
    await store.set(k('cw-doomed'), 'x', 60);
    const ops = [
      { op: 'sadd' as const, key: k('cw-index'), member: 'r1', ttlSeconds: 10 },
      { op: 'set' as const, key: k('cw-envelope'), value: 'sealed', ttlSeconds: 60 },
      { op: 'del' as const, key: k('cw-doomed') },
    ];
    expect(await store.createWith(k('cw'), 'first', 60, ops)).toEqual({ created: true });
    expect(await store.get(k('cw'))).toBe('first');
    expect((await store.smembers(k('cw-index'))).sort()).toEqual(['old', 'r1']);
    // the index's TTL only grew
    expect(await store.ttl(k('cw-index'))).toBeGreaterThan(90);
    expect(await store.get(k('cw-envelope'))).toBe('sealed');
    expect(await store.get(k('cw-doomed'))).toBeNull();

    // a second creation returns the stored value and writes nothing
    const again = await store.createWith(k('cw'), 'second', 60, [{ op: 'set', key: k('cw-other'), value: 'y', ttlSeconds: 60 }]);
    expect(again).toEqual({ created: false, current: 'first' });
    expect(await store.get(k('cw'))).toBe('first');
    expect(await store.get(k('cw-other'))).toBeNull();
  });

  test('createWith has one winner under concurrency, and refuses a related write without a TTL', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.createWith(k('cwn'), `w${i}`, 60, [{ op: 'sadd', key: k('cwn-index'), member: `m${i}`, ttlSeconds: 60 }])),
    );
    const winners = results.filter((r) => r.created);
    expect(winners).toHaveLength(1);
    const stored = await store.get(k('cwn'));
    expect(results.filter((r) => !r.created)).toEqual(Array(9).fill({ created: false, current: stored }));
    expect(await store.smembers(k('cwn-index'))).toEqual([`m${stored!.slice(1)}`]);

    await expect(store.createWith(k('cw-bad'), 'x', 60, [{ op: 'set', key: k('cw-bad-2'), value: 'y', ttlSeconds: 0 }])).rejects.toThrow();
    expect(await store.get(k('cw-bad'))).toBeNull();
    expect(await store.get(k('cw-bad-2'))).toBeNull();
  });

  test('createAll creates every record and the related writes together, or nothing when any record exists', async () => {
    await store.sadd(k('ca-index'), 'old', 100);
    const records = [
      { key: k('ca-1'), value: 'one', ttlSeconds: 60 },
      { key: k('ca-2'), value: 'two', ttlSeconds: 30 },
    ];
    const ops = [{ op: 'sadd' as const, key: k('ca-index'), member: 'r1', ttlSeconds: 10 }];
    expect(await store.createAll(records, ops)).toEqual({ created: true });
    expect(await store.get(k('ca-1'))).toBe('one');
    expect(await store.get(k('ca-2'))).toBe('two');
    expect(await store.ttl(k('ca-1'))).toBeGreaterThan(50);
    expect(await store.ttl(k('ca-2'))).toBeLessThanOrEqual(30);
    expect((await store.smembers(k('ca-index'))).sort()).toEqual(['old', 'r1']);
    expect(await store.ttl(k('ca-index'))).toBeGreaterThan(90);

    // one existing record (not the first) refuses them all: the refusal says what each holds
    const again = await store.createAll(
      [
        { key: k('ca-new'), value: 'x', ttlSeconds: 60 },
        { key: k('ca-2'), value: 'y', ttlSeconds: 60 },
      ],
      [{ op: 'set', key: k('ca-other'), value: 'z', ttlSeconds: 60 }],
    );
    expect(again).toEqual({ created: false, current: [null, 'two'] });
    expect(await store.get(k('ca-new'))).toBeNull();
    expect(await store.get(k('ca-2'))).toBe('two');
    expect(await store.get(k('ca-other'))).toBeNull();
  });

  test('createAll has one winner under concurrency, and refuses a write without a TTL', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.createAll(
          [
            { key: k(`can-${i}`), value: `own${i}`, ttlSeconds: 60 },
            { key: k('can-shared'), value: `w${i}`, ttlSeconds: 60 },
          ],
          [{ op: 'sadd', key: k('can-index'), member: `m${i}`, ttlSeconds: 60 }],
        ),
      ),
    );
    const winner = results.findIndex((r) => r.created);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await store.get(k('can-shared'))).toBe(`w${winner}`);
    expect(await store.smembers(k('can-index'))).toEqual([`m${winner}`]);
    for (let i = 0; i < 10; i++) {
      if (i === winner) continue;
      expect(results[i]).toEqual({ created: false, current: [null, `w${winner}`] });
      expect(await store.get(k(`can-${i}`))).toBeNull();
    }

    await expect(
      store.createAll(
        [
          { key: k('ca-bad'), value: 'x', ttlSeconds: 60 },
          { key: k('ca-bad-2'), value: 'y', ttlSeconds: 0 },
        ],
        [],
      ),
    ).rejects.toThrow();
    await expect(
      store.createAll([{ key: k('ca-bad'), value: 'x', ttlSeconds: 60 }], [{ op: 'set', key: k('ca-bad-3'), value: 'y', ttlSeconds: 0 }]),
    ).rejects.toThrow();
    expect(await store.get(k('ca-bad'))).toBeNull();
    expect(await store.get(k('ca-bad-2'))).toBeNull();
    expect(await store.get(k('ca-bad-3'))).toBeNull();
  });

  test('compareAndSet writes only over the expected value, and a refusal returns the current one', async () => {
    expect(await store.compareAndSet(k('cas'), 'nope', 'x', 60)).toEqual({ ok: false, current: null });
    expect(await store.get(k('cas'))).toBeNull();
    expect(await store.compareAndSet(k('cas'), null, 'one', 60)).toEqual({ ok: true });
    expect(await store.ttl(k('cas'))).toBeGreaterThan(50);
    expect(await store.compareAndSet(k('cas'), null, 'two', 60)).toEqual({ ok: false, current: 'one' });
    expect(await store.compareAndSet(k('cas'), 'on', 'two', 60)).toEqual({ ok: false, current: 'one' });
    expect(await store.compareAndSet(k('cas'), 'one', 'two', 60)).toEqual({ ok: true });
    expect(await store.get(k('cas'))).toBe('two');
    await expect(store.compareAndSet(k('cas'), 'two', 'three', 0)).rejects.toThrow();
    expect(await store.get(k('cas'))).toBe('two');
  });

  test('compareAndSet lets exactly one of several writers of the same value win', async () => {
    await store.set(k('casn'), '0', 60);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.compareAndSet(k('casn'), '0', `w${i}`, 60)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const winner = results.findIndex((r) => r.ok);
    expect(await store.get(k('casn'))).toBe(`w${winner}`);
  });

  test('writes without a TTL are refused', async () => {
    await expect(store.set(k('forever'), 'x', 0)).rejects.toThrow();
    expect(await store.get(k('forever'))).toBeNull();
  });

  test('pub/sub delivers to every subscriber until unsubscribed', async () => {
    const ch = makeKeys(prefix).eventsChannel();
    const a: string[] = [];
    const b: string[] = [];
    const unA = await store.subscribe(ch, (m) => a.push(m));
    const unB = await store.subscribe(ch, (m) => b.push(m));
    await store.publish(ch, 'one');
    for (let i = 0; i < 50 && (a.length < 1 || b.length < 1); i++) await sleep(10);
    expect(a).toEqual(['one']);
    expect(b).toEqual(['one']);
    await unA();
    await store.publish(ch, 'two');
    for (let i = 0; i < 50 && b.length < 2; i++) await sleep(10);
    expect(a).toEqual(['one']);
    expect(b).toEqual(['one', 'two']);
    await unB();
  });

  test('ping answers', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});
