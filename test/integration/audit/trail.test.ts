import Redis from 'ioredis';
import { AuditKey, AuditTrail, GENESIS_HASH, canonicalJson } from '../../../src/audit';
import { sha256Hex } from '../../../src/audit/canonical';
import { EmbeddedStore, RedisStore, makeKeys, type Keys } from '../../../src/store';
import { redisUrl, scanRedis, uniquePrefix } from '../../support/redis';
import { TEST_AUDIT_KEY } from '../../support/audit';

const CALL = 'CA0123456789abcdef0123456789abcdef';
const RECORDING = 'RE0123456789abcdef0123456789abcdef';

describe('AuditTrail on Redis', () => {
  let store: RedisStore;
  let keys: Keys;
  let prefix: string;
  let trail: AuditTrail;
  let raw: Redis;

  beforeEach(async () => {
    store = new RedisStore(redisUrl());
    await store.connect();
    prefix = uniquePrefix('audit');
    keys = makeKeys(prefix);
    trail = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY });
    raw = new Redis(redisUrl());
  });
  afterEach(async () => {
    expect((await scanRedis(prefix)).filter((k) => k.ttl < 0)).toEqual([]);
    raw.disconnect();
    await store.close();
  });

  test('entries are numbered, timestamped and hash-chained; the chain verifies', async () => {
    await trail.append(CALL, { type: 'recording.paused', recordingSid: RECORDING, twilioStatus: 'paused' });
    await trail.append(CALL, { type: 'capture.started', captureId: 'cap-1234', kind: 'card-number', blanket: true });
    await trail.append(CALL, { type: 'capture.completed', captureId: 'cap-1234', valid: true, tones: 16, note: undefined });
    const { entries, verified } = await trail.verify(CALL);
    expect(verified).toBe(true);
    expect(entries.map((e) => [e.seq, e.type])).toEqual([
      [1, 'recording.paused'],
      [2, 'capture.started'],
      [3, 'capture.completed'],
    ]);
    expect(entries[0].prev).toBe(GENESIS_HASH);
    expect(entries[1].prev).toBe(entries[0].hash);
    expect(entries[2].prev).toBe(entries[1].hash);
    expect('note' in entries[2]).toBe(false);
    for (const e of entries) {
      expect(new Date(e.at).toISOString()).toBe(e.at);
      expect(e.kid).toBe(TEST_AUDIT_KEY.kid);
      const { hash, ...rest } = e;
      // keyed: a plain hash of the entry is not what seals it
      expect(hash).toBe(TEST_AUDIT_KEY.mac(CALL, rest));
      expect(hash).not.toBe(sha256Hex(canonicalJson(rest)));
    }
    expect(await trail.list(CALL)).toEqual(entries);
    expect(await trail.verify('CAffffffffffffffffffffffffffffffff')).toEqual({ entries: [], verified: true });
  });

  test('editing one stored entry directly in Redis breaks verification', async () => {
    for (let i = 0; i < 4; i++) await trail.append(CALL, { type: 'tones.masked', count: i });
    expect((await trail.verify(CALL)).verified).toBe(true);
    const stored = JSON.parse((await raw.get(keys.audit(CALL)))!) as Record<string, unknown>[];
    stored[1].count = 99;
    await raw.set(keys.audit(CALL), JSON.stringify(stored), 'KEEPTTL');
    const after = await trail.verify(CALL);
    expect(after.verified).toBe(false);
    expect(after.brokenAt).toEqual({ seq: 2, reason: 'mac' });
    expect(after.entries[1].count).toBe(99);
  });

  test('a store writer who edits an entry and re-chains every later one with plain hashes is caught at the edit', async () => {
    for (let i = 0; i < 4; i++) await trail.append(CALL, { type: 'tones.masked', count: i });
    const stored = JSON.parse((await raw.get(keys.audit(CALL)))!) as Record<string, unknown>[];
    stored[1].count = 42;
    // recompute every hash from the edited entry on, as the unkeyed chain allowed
    for (let i = 1; i < stored.length; i++) {
      const { hash: _h, ...rest } = stored[i];
      void _h;
      rest.prev = stored[i - 1].hash;
      stored[i] = { ...rest, hash: sha256Hex(canonicalJson(rest)) };
    }
    await raw.set(keys.audit(CALL), JSON.stringify(stored), 'KEEPTTL');
    expect(await trail.verify(CALL)).toMatchObject({ verified: false, brokenAt: { seq: 2, reason: 'mac' } });
  });

  test("an entry moved from another call's trail, or sealed with a key not in the ring, does not verify", async () => {
    const OTHER = 'CAffffffffffffffffffffffffffffff00';
    await trail.append(CALL, { type: 'call.started' });
    await trail.append(OTHER, { type: 'call.started' });
    await raw.set(keys.audit(CALL), (await raw.get(keys.audit(OTHER)))!, 'KEEPTTL');
    expect(await trail.verify(CALL)).toMatchObject({ verified: false, brokenAt: { seq: 1, reason: 'mac' } });
    const rotated = new AuditTrail(store, keys, { key: new AuditKey(Buffer.alloc(32, 9)) });
    expect(await rotated.verify(OTHER)).toMatchObject({ verified: false, brokenAt: { seq: 1, reason: 'unknown-key' } });
  });

  test('re-hashing an edited entry still breaks the link to the next one', async () => {
    for (let i = 0; i < 3; i++) await trail.append(CALL, { type: 'tones.masked', count: i });
    const stored = JSON.parse((await raw.get(keys.audit(CALL)))!) as Record<string, unknown>[];
    const { hash: _drop, ...rest } = stored[0];
    void _drop;
    rest.count = 42;
    stored[0] = { ...rest, hash: sha256Hex(canonicalJson(rest)) };
    await raw.set(keys.audit(CALL), JSON.stringify(stored), 'KEEPTTL');
    expect((await trail.verify(CALL)).verified).toBe(false);
  });

  test('deleting an entry breaks verification; an unreadable trail does not verify', async () => {
    for (let i = 0; i < 3; i++) await trail.append(CALL, { type: 'tones.masked', count: i });
    const stored = JSON.parse((await raw.get(keys.audit(CALL)))!) as unknown[];
    stored.splice(1, 1);
    await raw.set(keys.audit(CALL), JSON.stringify(stored), 'KEEPTTL');
    expect(await trail.verify(CALL)).toMatchObject({ verified: false, brokenAt: { seq: 2, reason: 'sequence' } });
    await raw.set(keys.audit(CALL), '{not json', 'KEEPTTL');
    expect(await trail.verify(CALL)).toEqual({ entries: [], verified: false, brokenAt: { seq: 1, reason: 'unreadable' } });
  });

  test('concurrent appends from several instances keep one valid chain', async () => {
    const others = await Promise.all(
      [0, 1, 2].map(async () => {
        const s = new RedisStore(redisUrl());
        await s.connect();
        return s;
      }),
    );
    try {
      const trails = [trail, ...others.map((s) => new AuditTrail(s, keys, { key: TEST_AUDIT_KEY }))];
      const N = 40;
      await Promise.all(Array.from({ length: N }, (_, i) => trails[i % trails.length].append(CALL, { type: 'tones.masked', n: i })));
      const { entries, verified } = await trail.verify(CALL);
      expect(verified).toBe(true);
      expect(entries).toHaveLength(N);
      expect(new Set(entries.map((e) => e.n))).toEqual(new Set(Array.from({ length: N }, (_, i) => i)));
    } finally {
      await Promise.all(others.map((s) => s.close()));
    }
  });

  test('values that look like personal data are refused and nothing is stored', async () => {
    const refused: Record<string, string | number>[] = [
      { card: '4111111111111111' },
      { last4: '1111' },
      { from: '+15551234567' },
      { masked: '+*******4567' },
      { note: 'caller said 555 12 34 56' },
      { account: 12345678 },
      { cvv: '1234' },
      { callSid: 'CA0123456789abcdef0123456789abcdeX' },
      // a list of sids is accepted only when every member is one
      { recordingSids: `${RECORDING},4111111111111111` },
      { recordingSids: `${RECORDING}, ${RECORDING}` },
    ];
    for (const data of refused) {
      await expect(trail.append(CALL, { type: 'capture.completed', ...data })).rejects.toMatchObject({ code: 'TW_ERR_AUDIT_PERSONAL_DATA' });
    }
    await expect(trail.append(CALL, { type: 'x', seq: 7 })).rejects.toMatchObject({ code: 'TW_ERR_AUDIT_ENTRY_INVALID' });
    await expect(trail.append(CALL, { type: 'x', hash: 'abc' })).rejects.toMatchObject({ code: 'TW_ERR_AUDIT_ENTRY_INVALID' });
    await expect(trail.append(CALL, { type: 'x', nested: {} as unknown as string })).rejects.toMatchObject({ code: 'TW_ERR_AUDIT_ENTRY_INVALID' });
    // the error never repeats the value
    await trail.append(CALL, { type: 'x', card: '4111111111111111' }).catch((e: Error) => expect(e.message).not.toContain('4111'));
    expect(await raw.exists(keys.audit(CALL))).toBe(0);
  });

  test('allow-listed identifiers, Twilio sids, times and small numbers are accepted', async () => {
    await trail.append(CALL, {
      type: 'recording.resumed',
      recordingSid: RECORDING,
      agentCallSid: 'CAffffffffffffffffffffffffffffffff',
      streamSid: 'MZ0123456789abcdef0123456789abcdef',
      twilioStatus: '200',
      captureId: '7f3e9d12-0000-4a1b-9876-123456789012',
      receiptId: 'e0a2c1d4-5678-4abc-9def-000011112222',
      startedAt: Date.now(),
      durationMs: 12_345_678,
      httpStatus: 503,
      tones: 16,
      ok: false,
      flowId: 'payments-2024',
      // the recordings a drop-in capture pauses
      recordingSids: `${RECORDING},REffffffffffffffffffffffffffffffff`,
    });
    expect((await trail.verify(CALL)).verified).toBe(true);
  });

  test('the trail and its day index carry a TTL (400 days by default) refreshed by each append', async () => {
    await trail.append(CALL, { type: 'call.started' });
    const ttl = await raw.ttl(keys.audit(CALL));
    expect(ttl).toBeGreaterThan(400 * 24 * 3600 - 10);
    expect(ttl).toBeLessThanOrEqual(400 * 24 * 3600);
    const day = new Date().toISOString().slice(0, 10);
    expect(await trail.callsOn(day)).toEqual([CALL]);
    expect(await raw.ttl(keys.auditDay(day))).toBeGreaterThan(400 * 24 * 3600 - 10);
    const short = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY, ttlSeconds: 120 });
    await short.append(CALL, { type: 'call.ended' });
    expect(await raw.ttl(keys.audit(CALL))).toBeLessThanOrEqual(120);
  });
});

test('AuditTrail works the same on the embedded store', async () => {
  const store = new EmbeddedStore();
  const keys = makeKeys('e:');
  const trail = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY });
  await Promise.all(Array.from({ length: 10 }, (_, i) => trail.append(CALL, { type: 'tones.masked', n: i })));
  const { entries, verified } = await trail.verify(CALL);
  expect(verified).toBe(true);
  expect(entries).toHaveLength(10);
  expect(await store.ttl(keys.audit(CALL))).toBeGreaterThan(0);
  await store.close();
});
