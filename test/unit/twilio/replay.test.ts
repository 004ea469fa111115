/**
 * The replay guard on its own, over the embedded store (the same Store contract as Redis; the
 * guard on real Redis is covered by test/integration/replay.test.ts). A duplicate's wait for the
 * first request's answer runs on fake timers: the test steps through it instead of sleeping.
 */
import { EmbeddedStore, makeKeys } from '../../../src/store';
import { REPLAY_TTL_SECONDS, ReplayGuard, type StoredAnswer } from '../../../src/twilio/replay';

const CALL = 'CA' + 'c'.repeat(32);
const voice = { callSid: CALL, parts: ['voice'] };
const gather = { callSid: CALL, parts: ['gather', '1', '1'] };
const answer: StoredAnswer = { status: 200, contentType: 'text/xml', body: '<Response/>' };

let store: EmbeddedStore;
let guard: ReplayGuard;
beforeEach(() => {
  store = new EmbeddedStore();
  guard = new ReplayGuard(store, makeKeys('tw:'), Buffer.alloc(32, 9));
});
afterEach(async () => {
  jest.useRealTimers();
  await store.close();
});

describe('replay guard', () => {
  test('the first request runs; a copy after it answered gets that answer and runs nothing', async () => {
    expect(await guard.claim(voice)).toEqual({ first: true });
    await guard.remember(voice, answer);
    expect(await guard.claim(voice)).toEqual({ first: false, answer });
  });

  test('identities of one call are independent: a gather is not a replay of the voice webhook', async () => {
    expect(await guard.claim(voice)).toEqual({ first: true });
    expect(await guard.claim(gather)).toEqual({ first: true });
  });

  test("one record per call, named by an HMAC (not the CallSid), with the call record's TTL", async () => {
    await guard.claim(voice);
    const key = guard.recordKey(CALL);
    expect(key).not.toContain(CALL);
    expect(key).not.toContain('c'.repeat(32));
    expect(await store.ttl(key)).toBeGreaterThan(REPLAY_TTL_SECONDS - 5);
    const other = new ReplayGuard(store, makeKeys('tw:'), Buffer.alloc(32, 8));
    expect(other.recordKey(CALL)).not.toBe(key);
  });

  test("a request's claim and its remembered answer name its record with one HMAC; another call's identity gets its own", async () => {
    const made = jest.spyOn(guard, 'recordKey');
    const request = { callSid: CALL, parts: ['gather', '2', '1'] };
    expect(await guard.claim(request)).toEqual({ first: true });
    const op = guard.rememberOp(request, answer);
    expect(made).toHaveBeenCalledTimes(1);
    expect(op).toMatchObject({ op: 'jsonSet', key: guard.recordKey(CALL) });
    made.mockClear();
    const other = 'CA' + 'd'.repeat(32);
    expect(guard.rememberOp({ callSid: other, parts: request.parts }, answer)).toMatchObject({ key: guard.recordKey(other) });
    // an identity is never answered with a key made for another CallSid
    request.callSid = other;
    expect(guard.rememberOp(request, answer)).toMatchObject({ key: guard.recordKey(other) });
  });

  test('a copy that arrives while the first still runs waits for its answer', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    await guard.claim(voice);
    let settled = false;
    const copy = guard.claim(voice).then((c) => ((settled = true), c));
    await jest.advanceTimersByTimeAsync(500);
    expect(settled).toBe(false);
    await guard.remember(voice, answer);
    await jest.advanceTimersByTimeAsync(100);
    expect(await copy).toEqual({ first: false, answer });
  });

  test('a copy of a request that never answers gives up after its wait with no answer', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    await guard.claim(voice);
    let settled = false;
    const copy = guard.claim(voice).then((c) => ((settled = true), c));
    await jest.advanceTimersByTimeAsync(9_900);
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(200);
    expect(await copy).toEqual({ first: false, answer: null });
  });

  test('release lets a retry run afresh; forget erases every answer of the call', async () => {
    await guard.claim(voice);
    await guard.release(voice);
    expect(await guard.claim(voice)).toEqual({ first: true });
    await guard.remember(voice, answer);
    await guard.forget(CALL);
    expect(await store.get(guard.recordKey(CALL))).toBeNull();
    expect(await guard.claim(voice)).toEqual({ first: true });
  });

  test('a claim reads the keys it is given with it; a copy gets no reads, only the answer', async () => {
    await store.set('tw:call:x', 'session', 60);
    expect(await guard.claim(gather, ['tw:call:x', 'tw:absent'])).toEqual({ first: true, reads: ['session', null] });
    await guard.remember(gather, answer);
    expect(await guard.claim(gather, ['tw:call:x'])).toEqual({ first: false, answer });
  });

  test('answers of one call remembered by two instances at once both stay: each writes only its own entry', async () => {
    const other = new ReplayGuard(store, makeKeys('tw:'), Buffer.alloc(32, 9));
    await guard.claim(voice);
    await other.claim(gather);
    await Promise.all([guard.remember(voice, answer), other.remember(gather, { ...answer, body: '<Response><Dial/></Response>' })]);
    expect(await guard.claim(voice)).toEqual({ first: false, answer });
    expect(await guard.claim(gather)).toEqual({ first: false, answer: { ...answer, body: '<Response><Dial/></Response>' } });
  });

  test('a lone surrogate in an answer is remembered as U+FFFD, the character Twilio receives for it', async () => {
    await guard.claim(gather);
    await guard.remember(gather, { ...answer, body: '<Say>a\ud800b</Say>' });
    expect(await guard.claim(gather)).toEqual({ first: false, answer: { ...answer, body: '<Say>a\ufffdb</Say>' } });
    expect(Buffer.from('a\ud800b').equals(Buffer.from('a\ufffdb'))).toBe(true);
  });

  test("an answered record is its own answer's, whatever record the guard made before it (answeredRecord reuses the last one's text)", () => {
    const fresh = () => new ReplayGuard(store, makeKeys('tw:'), Buffer.alloc(32, 9));
    const other = { callSid: 'CA' + 'd'.repeat(32), parts: ['voice'] };
    const answers: [typeof voice, StoredAnswer][] = [
      [voice, answer],
      [other, { ...answer }],
      [other, { ...answer, body: '<Response><Say>a\ud800b</Say></Response>' }],
      [other, { ...answer, status: 500 }],
      [other, { ...answer, contentType: 'application/xml' }],
      [gather, { ...answer }],
      [voice, answer],
    ];
    for (const [id, a] of answers) expect(guard.answeredRecord(id, a)).toEqual(fresh().answeredRecord(id, a));
    expect(guard.answeredRecord(voice, answer).value).not.toBe(guard.answeredRecord(voice, { ...answer, body: '<Response><Hangup/></Response>' }).value);
  });
});
