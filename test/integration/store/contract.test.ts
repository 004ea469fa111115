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

  test('getMany reads several keys at once, in the order asked, an absent one null', async () => {
    expect(await store.getMany([])).toEqual([]);
    await store.set(k('m1'), 'one', 60);
    await store.set(k('m2'), 'two', 60);
    expect(await store.getMany([k('m2'), k('none'), k('m1')])).toEqual(['two', null, 'one']);
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

  test('deleteIfEquals deletes only a key that holds the value, once, and leaves one holding another', async () => {
    await store.set(k('lock'), 'mine', 60);
    expect(await store.deleteIfEquals(k('lock'), 'theirs')).toBe(false);
    expect(await store.get(k('lock'))).toBe('mine');
    const deleted = await Promise.all([
      store.deleteIfEquals(k('lock'), 'mine'),
      store.deleteIfEquals(k('lock'), 'mine'),
      store.deleteIfEquals(k('lock'), 'mine'),
    ]);
    expect(deleted.filter(Boolean)).toHaveLength(1);
    expect(await store.get(k('lock'))).toBeNull();
    expect(await store.deleteIfEquals(k('lock'), 'mine')).toBe(false);
    // a set is no string to compare: refused, as a GET of it is
    await store.sadd(k('set'), 'mine', 60);
    await expect(store.deleteIfEquals(k('set'), 'mine')).rejects.toThrow();
    expect(await store.smembers(k('set'))).toEqual(['mine']);
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

  test("update's `with`: the value's own writes, made with it, and none when it leaves the key", async () => {
    await store.set(k('w'), 'a', 60);
    const asked: string[] = [];
    const withIndex = { with: (next: string) => (asked.push(next), [{ op: 'sadd' as const, key: k('w-index'), member: next, ttlSeconds: 60 }]) };
    expect(await store.update(k('w'), (cur) => `${cur}+`, 60, withIndex)).toBe('a+');
    expect(await store.smembers(k('w-index'))).toEqual(['a+']);
    // a stale guess: the writes go with the value written over what the key really holds
    expect(await store.update(k('w'), (cur) => `${cur}+`, 60, { ...withIndex, guess: 'a' })).toBe('a++');
    expect((await store.smembers(k('w-index'))).sort()).toEqual(['a+', 'a++']);
    expect(asked.at(-1)).toBe('a++');
    // nothing to write: nothing of its own either
    const before = asked.length;
    expect(await store.update(k('w'), () => undefined, 60, withIndex)).toBe('a++');
    expect(asked).toHaveLength(before);
    expect((await store.smembers(k('w-index'))).sort()).toEqual(['a+', 'a++']);
  });

  test('sscan pages through a set: every member once read through, whatever is removed meanwhile; never the whole set at once', async () => {
    // more than Redis keeps compact (set-max-listpack-entries 128), so that its pages are real pages
    const members = Array.from({ length: 300 }, (_, i) => `CA${String(i).padStart(32, '0')}`);
    await store.multi(members.map((member) => ({ op: 'sadd' as const, key: k('scan'), member, ttlSeconds: 60 })));
    const read = new Set<string>();
    const removed = new Set<string>();
    let cursor = '0';
    let pages = 0;
    do {
      const page = await store.sscan(k('scan'), cursor, 25);
      cursor = page.cursor;
      pages++;
      // Redis's count is a hint (whole buckets of its hash table); the embedded store keeps to it
      expect(page.members.length).toBeLessThanOrEqual(name === 'redis' ? 100 : 25);
      for (const m of page.members) read.add(m);
      // a member removed between pages is not asked for: the rest still come
      if (pages === 2) {
        const gone = members.filter((m) => !read.has(m)).slice(0, 10);
        await store.multi(gone.map((member) => ({ op: 'srem' as const, key: k('scan'), member })));
        for (const m of gone) removed.add(m);
      }
      expect(pages).toBeLessThan(1000);
    } while (cursor !== '0');
    expect(pages).toBeGreaterThan(3);
    expect(members.filter((m) => !removed.has(m) && !read.has(m))).toEqual([]);
    expect(removed.size).toBe(10);

    expect(await store.sscan(k('scan-missing'), '0', 10)).toEqual({ cursor: '0', members: [] });
    await store.sadd(k('scan-small'), 'only', 60);
    expect(await store.sscan(k('scan-small'), '0', 10)).toEqual({ cursor: '0', members: ['only'] });
    await expect(store.sscan(k('scan-small'), '0', 0)).rejects.toMatchObject({ code: 'TW_ERR_STORE_COUNT_INVALID' });
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

  test('jsonSet and jsonDel change one field of a JSON-object record, whatever else its other writers added', async () => {
    const rec = k('json');
    await store.multi([{ op: 'jsonSet', key: rec, field: 'a', value: '"pending"', ttlSeconds: 30 }]);
    expect(JSON.parse((await store.get(rec))!)).toEqual({ a: 'pending' });
    expect(await store.ttl(rec)).toBeLessThanOrEqual(30);
    // text beyond ASCII, quotes, slashes and control characters come back as they went in
    const answer = { status: 200, contentType: 'text/xml', body: '<Say language="de-DE">Grüß Gott 😀 / \\ "x"\n\u0001</Say>' };
    await store.multi([
      { op: 'jsonSet', key: rec, field: 'b', value: JSON.stringify(answer), ttlSeconds: 60 },
      { op: 'jsonSet', key: rec, field: 'a', value: '{"n":1}', ttlSeconds: 60 },
    ]);
    expect(JSON.parse((await store.get(rec))!)).toEqual({ a: { n: 1 }, b: answer });
    expect(await store.ttl(rec)).toBeGreaterThan(50);
    await store.multi([
      { op: 'jsonDel', key: rec, field: 'a' },
      { op: 'jsonDel', key: rec, field: 'missing' },
      { op: 'jsonDel', key: k('json-absent'), field: 'a' },
    ]);
    expect(JSON.parse((await store.get(rec))!)).toEqual({ b: answer });
    expect(await store.ttl(rec)).toBeGreaterThan(50);
    expect(await store.get(k('json-absent'))).toBeNull();
    // a record that is not a JSON object is taken as an empty one
    for (const junk of ['not json', '[1,2]', '"text"']) {
      await store.set(k('json-junk'), junk, 60);
      await store.multi([{ op: 'jsonSet', key: k('json-junk'), field: 'f', value: 'true', ttlSeconds: 60 }]);
      expect(JSON.parse((await store.get(k('json-junk')))!)).toEqual({ f: true });
    }
    // a record written whole after its fields were (set, a compare-and-set): its fields are the new text's
    const whole = k('json-whole');
    await store.multi([{ op: 'jsonSet', key: whole, field: 'a', value: '1', ttlSeconds: 60 }]);
    await store.set(whole, '{"b":2}', 60);
    expect(await store.claimField(whole, 'a', '3', 60)).toEqual({ claimed: true, reads: [] });
    expect(JSON.parse((await store.get(whole))!)).toEqual({ a: 3, b: 2 });
    expect(await store.compareAndSetAll([{ key: whole, expected: await store.get(whole), next: '{"c":4}', ttlSeconds: 60 }], [])).toEqual({ ok: true });
    await store.multi([{ op: 'jsonSet', key: whole, field: 'd', value: '5', ttlSeconds: 60 }]);
    expect(JSON.parse((await store.get(whole))!)).toEqual({ c: 4, d: 5 });
  });

  test('a jsonSet value that is not JSON, or escapes a lone surrogate, is refused with nothing of its batch written', async () => {
    for (const value of ['{not json', JSON.stringify({ body: 'x\ud800' })]) {
      await expect(
        store.multi([
          { op: 'set', key: k('jv-other'), value: 'x', ttlSeconds: 60 },
          { op: 'jsonSet', key: k('jv'), field: 'f', value, ttlSeconds: 60 },
        ]),
      ).rejects.toThrow(/JSON/);
      await expect(store.claimField(k('jv'), 'f', value, 60)).rejects.toThrow(/JSON/);
    }
    expect(await store.get(k('jv-other'))).toBeNull();
    expect(await store.get(k('jv'))).toBeNull();
    // an escaped backslash before "ud800" is text, not an escape
    await store.multi([{ op: 'jsonSet', key: k('jv'), field: 'f', value: JSON.stringify('\\ud800'), ttlSeconds: 60 }]);
    expect(JSON.parse((await store.get(k('jv')))!)).toEqual({ f: '\\ud800' });
  });

  test('claimField claims a field once, returns what the field held to every later claim, and reads other keys with it', async () => {
    const rec = k('claim');
    await store.set(k('claim-read'), 'session', 60);
    expect(await store.claimField(rec, 'g1', '"pending"', 30, [k('claim-read'), k('claim-absent')])).toEqual({ claimed: true, reads: ['session', null] });
    expect(await store.ttl(rec)).toBeGreaterThan(20);
    expect(await store.ttl(rec)).toBeLessThanOrEqual(30);
    expect(await store.claimField(rec, 'g1', '"other"', 60, [k('claim-read')])).toEqual({ claimed: false, held: '"pending"', reads: ['session'] });
    // a refused claim writes nothing, not even the TTL
    expect(await store.ttl(rec)).toBeLessThanOrEqual(30);
    await store.multi([{ op: 'jsonSet', key: rec, field: 'g1', value: '{"status":200,"body":"<Response/>"}', ttlSeconds: 60 }]);
    const refused = await store.claimField(rec, 'g1', '"pending"', 60);
    expect(refused.claimed).toBe(false);
    expect(!refused.claimed && JSON.parse(refused.held)).toEqual({ status: 200, body: '<Response/>' });
    expect(refused.reads).toEqual([]);
    // another field of the same record is a claim of its own
    expect(await store.claimField(rec, 'g2', '"pending"', 60)).toEqual({ claimed: true, reads: [] });
    expect(JSON.parse((await store.get(rec))!)).toEqual({ g1: { status: 200, body: '<Response/>' }, g2: 'pending' });
    // an unreadable record holds no claim
    await store.set(k('claim-junk'), '{"broken', 60);
    expect((await store.claimField(k('claim-junk'), 'g1', '"pending"', 60)).claimed).toBe(true);
    await expect(store.claimField(k('claim-ttl'), 'g1', '"pending"', 0)).rejects.toThrow();
    expect(await store.get(k('claim-ttl'))).toBeNull();
  });

  test('claimField has one winner under concurrency', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claimField(k('claimn'), 'f', JSON.stringify(`w${i}`), 60)));
    const winner = results.findIndex((r) => r.claimed);
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    for (const [i, r] of results.entries()) if (i !== winner) expect(r).toEqual({ claimed: false, held: JSON.stringify(`w${winner}`), reads: [] });
  });

  test('compareAndSetAll writes every record and the related writes only while every record holds its expected value', async () => {
    await store.set(k('cas-a'), 'a0', 60);
    const ops = [
      { op: 'set' as const, key: k('cas-envelope'), value: 'sealed', ttlSeconds: 60 },
      { op: 'jsonSet' as const, key: k('cas-json'), field: 'f', value: '"answer"', ttlSeconds: 60 },
    ];
    // one record (the absent one, expected present) differs: nothing is written, and the refusal says what each holds
    const refused = await store.compareAndSetAll(
      [
        { key: k('cas-a'), expected: 'a0', next: 'a1', ttlSeconds: 60 },
        { key: k('cas-b'), expected: 'b0', next: 'b1', ttlSeconds: 60 },
      ],
      ops,
    );
    expect(refused).toEqual({ ok: false, current: ['a0', null] });
    expect(await store.get(k('cas-a'))).toBe('a0');
    expect(await store.get(k('cas-b'))).toBeNull();
    expect(await store.get(k('cas-envelope'))).toBeNull();
    expect(await store.get(k('cas-json'))).toBeNull();

    const done = await store.compareAndSetAll(
      [
        { key: k('cas-a'), expected: 'a0', next: 'a1', ttlSeconds: 30 },
        { key: k('cas-b'), expected: null, next: 'b1', ttlSeconds: 60 },
      ],
      ops,
    );
    expect(done).toEqual({ ok: true });
    expect(await store.get(k('cas-a'))).toBe('a1');
    expect(await store.ttl(k('cas-a'))).toBeLessThanOrEqual(30);
    expect(await store.get(k('cas-b'))).toBe('b1');
    expect(await store.get(k('cas-envelope'))).toBe('sealed');
    expect(JSON.parse((await store.get(k('cas-json')))!)).toEqual({ f: 'answer' });

    // a stale expectation on either record refuses the whole write
    expect(await store.compareAndSetAll([{ key: k('cas-b'), expected: 'b0', next: 'b2', ttlSeconds: 60 }], [{ op: 'del', key: k('cas-a') }])).toEqual({
      ok: false,
      current: ['b1'],
    });
    expect(await store.get(k('cas-a'))).toBe('a1');

    // a TTL or JSON value the store would refuse: refused before anything is written
    await expect(store.compareAndSetAll([{ key: k('cas-a'), expected: 'a1', next: 'a2', ttlSeconds: 0 }], [])).rejects.toThrow();
    await expect(
      store.compareAndSetAll(
        [{ key: k('cas-a'), expected: 'a1', next: 'a2', ttlSeconds: 60 }],
        [{ op: 'jsonSet', key: k('cas-json'), field: 'f', value: '{bad', ttlSeconds: 60 }],
      ),
    ).rejects.toThrow();
    await expect(store.compareAndSetAll([], [{ op: 'del', key: k('cas-a') }])).rejects.toThrow();
    expect(await store.get(k('cas-a'))).toBe('a1');
  });

  test('compareAndSetAll lets exactly one of several writers over the same values win', async () => {
    await store.set(k('casa-1'), '0', 60);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.compareAndSetAll(
          [
            { key: k('casa-1'), expected: '0', next: `w${i}`, ttlSeconds: 60 },
            { key: k('casa-2'), expected: null, next: `w${i}`, ttlSeconds: 60 },
          ],
          [{ op: 'sadd', key: k('casa-index'), member: `m${i}`, ttlSeconds: 60 }],
        ),
      ),
    );
    const winner = results.findIndex((r) => r.ok);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(await store.get(k('casa-1'))).toBe(`w${winner}`);
    expect(await store.get(k('casa-2'))).toBe(`w${winner}`);
    expect(await store.smembers(k('casa-index'))).toEqual([`m${winner}`]);
    for (const [i, r] of results.entries()) if (i !== winner) expect(r).toEqual({ ok: false, current: [`w${winner}`, `w${winner}`] });
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
