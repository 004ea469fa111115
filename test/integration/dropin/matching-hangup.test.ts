/**
 * A drop-in caller hangs up at the second entry of a matching pair (requireMatchingInputs): the
 * first entry waits sealed in the vault under the token its call, step and attempt name
 * (flows/matching.ts matchToken), and the call's record names it in `pendingMatch`. The app's
 * status callback is its own, so the hang-up is found by the watch's poll, and the service's
 * `caller-hung-up` report goes out: after it, the record keeps no `pendingMatch` and Redis keeps
 * no sealed first entry, as when a /confirm refuses it or tonewall's status route ends the call.
 * The same when the second entry's step fails and the call goes back with `internal-error`.
 */
import Redis from 'ioredis';
import type { EmulatedCall, GatherRequest } from '../../../tools/emulator';
import { matchToken } from '../../../src/flows/matching';
import { makeKeys } from '../../../src/store';
import { CARD_STEPS } from '../../support/card-flows';
import { CARD, startDropinShop, verified, type DropinShop } from '../../support/dropin';
import { waitFor } from '../../support/harness';
import { PrivateRedis } from '../../support/private-redis';
import { uniquePrefix } from '../../support/redis';

const ACCOUNT = '20481632';
/** the card, then an account number keyed twice */
const FLOW = `id: card-capture
numbers: ["+15005550151"]
steps:
${CARD_STEPS.card}  - collect: account
    kind: digits
    minLength: 4
    maxLength: 8
    requireMatchingInputs: true
    prompt: "Key in your account number, then press hash."
`;
/** the account step's index in FLOW (the card's is 0) */
const ACCOUNT_STEP = 1;

let redis: PrivateRedis;
let r: Redis;
let d: DropinShop;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  r = new Redis(redis.url);
  d = await startDropinShop({ 'card-capture': FLOW }, { env: { REDIS_URL: redis.url }, keyPrefix: uniquePrefix('dropin-matching-hangup') });
}, 30_000);

afterAll(async () => {
  await d?.close();
  r?.disconnect();
  await redis?.close();
});

/** keys the card and the account's first entry, then waits at the account's second until the test hangs up */
async function callWaitingAtConfirm(): Promise<EmulatedCall> {
  let waiting!: () => void;
  const atConfirm = new Promise<void>((resolve) => (waiting = resolve));
  const c = await d.call((g: GatherRequest) => {
    if (g.prompt.join(' ').includes('card number')) return `${CARD}#`;
    if (!g.action.includes('/confirm')) return `${ACCOUNT}#`;
    waiting();
    // the caller keys nothing more; the hangup ends the wait
    return new Promise<null>(() => undefined);
  });
  await atConfirm;
  return c;
}

it('the caller hangs up at the second entry: caller-hung-up goes to the app, and neither pendingMatch nor the sealed first entry is left', async () => {
  const { calls, vault } = d.h.app.services;
  const keys = makeKeys(d.h.keyPrefix);
  const c = await callWaitingAtConfirm();

  // waiting for the second entry: the first, sealed under the token its step and attempt name
  const waiting = await calls.get(c.sid);
  const sealed = matchToken(vault, c.sid, ACCOUNT_STEP, 1);
  expect(waiting).toMatchObject({ state: 'ivr', step: ACCOUNT_STEP, pendingMatch: { step: ACCOUNT_STEP, token: sealed } });
  expect(await r.exists(vault.keyOf(sealed))).toBe(1);
  expect(await vault.get(c.sid, 'account', sealed)).toBe(ACCOUNT);

  await c.hangup();
  await waitFor(() => d.shop.returned.find((x) => !x.fromTwilio), 'the caller-hung-up POST');
  await waitFor(async () => (await r.exists(keys.dropinWatch(c.sid))) === 0, 'the watch to be removed');

  expect(d.shop.returned.map((x) => (x.fromTwilio ? 'redirect' : x.body.Result))).toEqual(['caller-hung-up']);
  const ended = await calls.get(c.sid);
  expect(ended).toMatchObject({ state: 'ended', dropin: { result: 'caller-hung-up' } });
  expect(ended).not.toHaveProperty('pendingMatch');
  expect(await r.exists(vault.keyOf(sealed))).toBe(0);
  // the vault keeps only what the record names: the card (for the app's processors) and the caller's number
  const vaultPrefix = vault.keyOf(sealed).slice(0, -sealed.length);
  const envelopes = await r.keys(`${vaultPrefix}vt_*`);
  const named = [ended!.fields.card?.token, ended!.fromToken].map((t) => vault.keyOf(t!));
  expect(envelopes.sort()).toEqual(named.sort());
});

it("the second entry's step fails: internal-error goes to the app, and neither pendingMatch nor the sealed first entry is left", async () => {
  const { calls, vault } = d.h.app.services;
  const keys = makeKeys(d.h.keyPrefix);
  d.shop.reset();
  let sealed = '';
  let sealedThen = 0;
  const c: EmulatedCall = await d.call(async (g: GatherRequest) => {
    if (g.prompt.join(' ').includes('card number')) return `${CARD}#`;
    if (!g.action.includes('/confirm')) return `${ACCOUNT}#`;
    sealed = matchToken(vault, c.sid, ACCOUNT_STEP, 1);
    sealedThen = await r.exists(vault.keyOf(sealed));
    // the call's audit trail stops parsing: the step that would confirm the pair cannot be served
    await r.set(keys.audit(c.sid), 'not a trail', 'EX', 600);
    return `${ACCOUNT}#`;
  });
  await c.ended;

  expect(d.shop.returned.map((x) => [x.fromTwilio, verified(x).Result])).toEqual([[true, 'internal-error']]);
  expect(sealedThen).toBe(1);
  const returned = await calls.get(c.sid);
  expect(returned).toMatchObject({ dropin: { result: 'internal-error' } });
  expect(returned).not.toHaveProperty('pendingMatch');
  expect(await r.exists(vault.keyOf(sealed))).toBe(0);
});
