/**
 * A drop-in caller hangs up mid-capture, so tonewall POSTs `caller-hung-up` to the app's return
 * URL, and the caller's erasure comes while that POST is on its way (the app holds it). The
 * erasure answers only once the app has answered the POST: no result of the caller's goes out
 * after their erasure's receipt, and none is tried again. Through the whole app, with a real
 * Redis, the project's Twilio emulator and the shop's own HTTP app.
 */
import { TokenAuth } from '../../../src/auth/tokens';
import { makeKeys } from '../../../src/store';
import { CALLER, cardCaptureFlow, hangUpAt, startDropinShop, type DropinShop } from '../../support/dropin';

/** how long the app holds the result POST before answering it: the erasure comes meanwhile */
const HOLD_MS = 1_500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let d: DropinShop;

beforeAll(async () => {
  d = await startDropinShop({ 'card-capture': cardCaptureFlow() });
}, 30_000);

afterAll(async () => {
  await d?.close();
});

it("an erasure while the caller's caller-hung-up result is being POSTed to the app answers only after the app answered the POST", async () => {
  const { h, shop } = d;
  const admin = new TokenAuth(h.config.agentJwtSecret).sign({ sub: 'dpo', endpoint: 'client:dpo', role: 'admin' });
  let arrived!: () => void;
  const posting = new Promise<void>((resolve) => (arrived = resolve));
  let answeredAt = 0;
  shop.onResult = async () => {
    arrived();
    await sleep(HOLD_MS);
    answeredAt = Date.now();
  };
  const c = await hangUpAt(d, 'expiry');
  await posting;

  const erased = await fetch(`${h.url}/v1/subjects/${encodeURIComponent(CALLER)}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
  const erasedAt = Date.now();
  expect(erased.status).toBe(200);
  expect(await erased.json()).toMatchObject({ calls: 1 });
  // the result reached the app and was answered before the erasure completed, not after
  expect(answeredAt).toBeGreaterThan(0);
  expect(answeredAt).toBeLessThanOrEqual(erasedAt);

  // nothing is tried again once the erasure is done, and nothing of the result is left to try
  await sleep(500);
  expect(shop.returned.map((r) => [r.fromTwilio, r.body.Result])).toEqual([[false, 'caller-hung-up']]);
  const keys = makeKeys(h.keyPrefix);
  const scan = await h.scan();
  expect(scan.filter((k) => k.key === keys.dropinResult(c.sid) || k.key === keys.dropinResultLease(c.sid))).toEqual([]);
  expect(scan.filter((k) => k.key === keys.dropinResults() && k.content.includes(c.sid))).toEqual([]);
  expect(await h.app.services.calls.get(c.sid)).toBeNull();
}, 30_000);
