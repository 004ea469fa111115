/**
 * Issue 13, when a step fails: a drop-in capture's call is the app's, so a step that cannot be
 * served returns it to the app with `Result=internal-error` (as Twilio's <Pay> does), its
 * recordings resumed first, instead of the apology and hangup a plain call gets. The store is a
 * private redis-server each test may stop (or whose records it may spoil), the Twilio side the
 * project's emulator, the app the shop of test/support/shop-app.ts.
 */
import type { EmulatedCall, GatherRequest } from '../../tools/emulator';
import { encodeActionQuery } from '../../src/dropin/action-query';
import { RESULT_SIGNATURE_HEADER, RESULT_SIGNATURE_PARAM, verifyCaptureResult } from '../../src/dropin/result-signature';
import { makeKeys } from '../../src/store';
import { CALLER, CARD, cardCaptureFlow, RESULT_SECRET, says, SHOP_NUMBER, shopCallParams, startDropinShop, verified, type DropinShop } from '../support/dropin';
import { CARD_PROMPT, CVV_PROMPT, EXPIRY_PROMPT } from '../support/card-flows';
import { ACCOUNT_SID, sleep, startHarness, waitFor, type Harness } from '../support/harness';
import { wideDecode } from '../support/decoders';
import { PrivateRedis } from '../support/private-redis';
import { uniquePrefix } from '../support/redis';
import type { ShopApp } from '../support/shop-app';
import { currentExpiry, holdsValue } from '../support/values';

const EXPIRY = currentExpiry(14);
const CVV = '737';
const HELLO = 'Hello from Example Shop.';
const THANKS = 'Thank you for your payment.';

/** the private redis-server, which tests stop; it comes back empty */
let redis: PrivateRedis;
let d: DropinShop;
let h: Harness;
let shop: ShopApp;
const keys = () => makeKeys(h.keyPrefix);
const stopRedis = () => redis.stop();

beforeAll(async () => {
  redis = await PrivateRedis.start();
  d = await startDropinShop(
    { 'card-capture': cardCaptureFlow() },
    { keyPrefix: uniquePrefix('dropin-failure'), env: { REDIS_URL: redis.url }, build: { dropinProcessorWaitMs: 1_000 } },
  );
  ({ h, shop } = d);
}, 30_000);

afterAll(async () => {
  if (redis.down) await redis.up();
  await d?.close();
  await redis.close();
});

beforeEach(() => {
  shop.reset();
  h.emulator.faults.recordingPause = undefined;
  h.emulator.faults.recordingResume = undefined;
});

afterEach(async () => {
  // a test that stopped the store: it comes back (empty) and the service is ready again
  if (redis.down) await redis.up();
  await waitFor(async () => (await fetch(`${h.url}/readyz`)).status === 200, 'the service to be ready again', 10_000);
});

/**
 * The capture route's rescue returned the call once, having resumed `recordings` of its own
 * request's pauses, and warned of no pause held by another request (dropin/held-pauses.ts).
 */
function expectCaptureRouteResumed(c: EmulatedCall, recordings: number): void {
  const lines = h.logs.lines.filter((l) => l.includes(c.sid)).map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.filter((l) => l.msg === 'drop-in capture returned to the app after a failed step')).toEqual([
    expect.objectContaining({ route: 'capture', recordings }),
  ]);
  expect(lines.some((l) => l.reason === 'paused-by-another-request')).toBe(false);
}

/** keys for each prompt, by the words in it; `at` runs first at the prompt it names */
function keypad(at?: { prompt: string; run: (g: GatherRequest) => Promise<void> }): (g: GatherRequest) => Promise<string | null> {
  return async (g) => {
    const p = g.prompt.join(' ');
    if (at && p.includes(at.prompt)) await at.run(g);
    if (p.includes('card number')) return `${CARD}#`;
    if (p.includes('expiry')) return EXPIRY;
    if (p.includes('security code')) return CVV;
    return null;
  };
}

/** the query of a TwiML <Redirect>'s URL, with its target */
function redirectIn(twiml: string): { target: string; query: Record<string, string> } | undefined {
  const m = /<Redirect method="POST">([^<]+)<\/Redirect>/.exec(twiml);
  if (!m) return undefined;
  const u = new URL(m[1].replace(/&amp;/g, '&'));
  return { target: u.origin + u.pathname, query: Object.fromEntries(u.searchParams) };
}

function statesOf(c: EmulatedCall, recordingSid: string): string[] {
  return h.emulator.recordingStatuses(c.sid, recordingSid);
}

/** a gather action request as Twilio sends it again (a retry), of an entry the caller ended on '#' */
function gatherParams(c: EmulatedCall, digits: string): Record<string, string> {
  return shopCallParams(c.sid, { Digits: digits, FinishedOnKey: '#' });
}

async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(h.metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

async function auditOf(callSid: string): Promise<Record<string, unknown>[]> {
  return (await h.app.services.audit.list(callSid)) as unknown as Record<string, unknown>[];
}

/** the app got the call back exactly once, from Twilio, with internal-error and nothing else of the capture */
function expectInternalError(c: EmulatedCall): void {
  expect(shop.returned).toHaveLength(1);
  expect(shop.returned[0].fromTwilio).toBe(true);
  expect(verified(shop.returned[0])).toEqual({ order: '42', CallSid: c.sid, Result: 'internal-error' });
  // nothing hung up by tonewall: no apology, the app's own words last
  expect(says(c)).not.toContain("We're sorry, we can't complete your request right now. Goodbye.");
  expect(says(c).at(-1)).toBe(THANKS);
}

it("a gather's step throws (the call's audit trail is unreadable): the app gets internal-error, signed; its recording is resumed; a Twilio retry gets the same answer", async () => {
  shop.recordings = 1;
  const fallbacksBefore = await metric('tonewall_safe_fallbacks_total', '{reason="step"}');
  const activeBefore = await metric('tonewall_calls_active');
  let action = '';
  let c: EmulatedCall | undefined = undefined;
  c = await d.call(
    keypad({
      prompt: 'card number',
      run: async (g) => {
        action = g.action;
        // a trail that no longer parses is evidence: the service never overwrites it, every append throws
        await h.redisStore!.set(keys().audit(c!.sid), 'not a trail', 600);
      },
    }),
  );
  await c.ended;
  expectInternalError(c);
  expect(says(c)).toEqual([HELLO, CARD_PROMPT, THANKS]);
  // the recording the capture paused runs again when the call is back with the app
  const [rec] = c.recordings;
  expect(statesOf(c, rec.sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  expect(shop.atReturn).toEqual([{ sid: rec.sid, status: 'in-progress' }]);
  // the store took the rest: the call is marked returned, and no longer counted as active
  expect(await h.app.services.calls.get(c.sid)).toMatchObject({ state: 'returned', dropin: { result: 'internal-error' } });
  expect(await metric('tonewall_calls_active')).toBe(activeBefore);
  expect(await metric('tonewall_safe_fallbacks_total', '{reason="step"}')).toBe(fallbacksBefore + 1);
  const lines = h.logs.lines.filter((l) => l.includes(c!.sid));
  expect(lines.some((l) => l.includes('webhook step failed') && l.includes('TW_ERR_AUDIT_ENTRY_INVALID'))).toBe(true);
  expect(lines.some((l) => l.includes('recording resume after a failed step not confirmed'))).toBe(true);
  expect(holdsValue(h.logs.text, CARD)).toBe(false);

  // a retry, a second later (a fresh signature would differ in t): the first answer, nothing run again
  const timeline = statesOf(c, rec.sid);
  await sleep(1_100);
  const retry = await h.emulator.signedPost(action, gatherParams(c, CARD));
  expect(redirectIn(retry.body)).toEqual({ target: `${shop.url}/paid`, query: shop.returned[0].query });
  expect(statesOf(c, rec.sid)).toEqual(timeline);
  expect(h.logs.lines.some((l) => l.includes(c!.sid) && l.includes('webhook replay answered from the first response'))).toBe(true);
});

it("a gather's step fails as the caller hangs up: Twilio drops the redirect, so internal-error is POSTed to the app server to server, signed, once", async () => {
  shop.recordings = 1;
  let c: EmulatedCall | undefined = undefined;
  c = await d.call(
    keypad({
      prompt: 'card number',
      run: async () => {
        // the card's step throws (the trail unreadable), and while its rescue resumes the app's
        // recording (held a second by Twilio) the caller hangs up: the call is over at the return
        await h.redisStore!.set(keys().audit(c!.sid), 'not a trail', 600);
        h.emulator.faults.recordingResume = { delayMs: 1_000, times: 1 };
        void waitFor(() => h.emulator.faults.recordingResume === undefined, "the failed step's resume", 10_000).then(() => c!.hangup());
      },
    }),
  );
  await c.ended;
  const back = await waitFor(() => shop.returned[0], 'the server-to-server result', 10_000);
  expect(back.fromTwilio).toBe(false);
  const sig = back.headers[RESULT_SIGNATURE_HEADER.toLowerCase()];
  expect(typeof sig).toBe('string');
  expect(verifyCaptureResult(back.body, sig as string, RESULT_SECRET)).toBe(true);
  expect(back.body).toEqual({ order: '42', CallSid: c.sid, Result: 'internal-error' });
  // delivered, and only this result: the call's record says it returned, so its end reports no hang-up
  await waitFor(async () => JSON.parse((await h.redisStore!.get(keys().dropinResult(c!.sid))) ?? '{}').status === 'delivered', 'the result delivered');
  expect(await h.app.services.calls.get(c.sid)).toMatchObject({ dropin: { result: 'internal-error' } });
  await h.emulator.signedPost(h.statusUrl, { CallSid: c.sid, AccountSid: ACCOUNT_SID, CallStatus: 'completed' });
  expect(shop.returned).toHaveLength(1);
  expect(says(c)).toEqual([HELLO, CARD_PROMPT]);
  expect(holdsValue(h.logs.text, CARD)).toBe(false);
});

it("the call's record is gone at a gather (evicted): back to the app from the action's query alone, the resume and the return audited", async () => {
  shop.recordings = 1;
  let c: EmulatedCall | undefined = undefined;
  c = await d.call(keypad({ prompt: 'expiry', run: async () => void (await h.redisStore!.del(keys().call(c!.sid))) }));
  await c.ended;
  expectInternalError(c);
  const [rec] = c.recordings;
  expect(statesOf(c, rec.sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  const entries = await auditOf(c.sid);
  expect(entries.filter((e) => e.type === 'recording.resumed').map((e) => e.recordingSid)).toEqual([rec.sid]);
  expect(entries.at(-1)).toMatchObject({ type: 'dropin.returned', result: 'internal-error' });
  expect((await h.app.services.audit.verify(c.sid)).verified).toBe(true);
});

it("a gather that ended on its count fails: the resume waits for the keys keyed on past it, the app's recording holds none", async () => {
  shop.recordings = 1;
  // the shop takes its time over the return: the call is live while the keys land
  shop.onReturn = async () => {
    await sleep(1_500);
  };
  let c: EmulatedCall | undefined = undefined;
  c = await d.call(async (g) => {
    const p = g.prompt.join(' ');
    if (p.includes('card number')) return `${CARD}#`;
    if (!p.includes('expiry')) return null;
    await h.redisStore!.del(keys().call(c!.sid));
    // the Gather ends on the fourth key; two more follow it
    return `${EXPIRY}25`;
  });
  await c.ended;
  expectInternalError(c);
  const [rec] = c.recordings;
  expect(statesOf(c, rec.sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  expect(wideDecode(c.recordingAudio)).toBe('');
});

it("a gather that ended on the caller's silence mid-entry fails: a guard before the return, the keys keyed on after it in no recording", async () => {
  shop.recordings = 1;
  // the shop takes its time over the return: the call is live while the keys land
  shop.onReturn = async () => {
    await sleep(2_000);
  };
  let c: EmulatedCall | undefined = undefined;
  c = await d.call(async (g) => {
    const p = g.prompt.join(' ');
    if (!p.includes('card number')) return null;
    await h.redisStore!.del(keys().call(c!.sid));
    // the caller stops mid-card for longer than the Gather's timeout, then keys the rest on
    return `${CARD.slice(0, 8)},${CARD.slice(8)}#`;
  });
  await c.ended;
  expectInternalError(c);
  const [rec] = c.recordings;
  expect(statesOf(c, rec.sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  expect(wideDecode(c.recordingAudio)).toBe('');
  // the guard's action returned the call, with the gather's query
  const guards = h.emulator.timelineFor(c.sid).filter((e) => e.type === 'webhook' && new URL(e.url).pathname.endsWith('/failed'));
  expect(guards).toHaveLength(1);
});

it('Redis down from a gather onward (no session readable): back to the app with internal-error, each recording resumed by its SID; a retry too', async () => {
  shop.recordings = 2;
  let action = '';
  const c = await d.call(
    keypad({
      prompt: 'card number',
      run: async (g) => {
        action = g.action;
        await stopRedis();
      },
    }),
  );
  await c.ended;
  expectInternalError(c);
  expect(says(c)).toEqual([HELLO, CARD_PROMPT, THANKS]);
  expect(c.recordings).toHaveLength(2);
  for (const rec of c.recordings) expect(statesOf(c, rec.sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  expect(shop.atReturn).toEqual(expect.arrayContaining(c.recordings.map((r) => ({ sid: r.sid, status: 'in-progress' }))));
  expect(h.logs.lines.some((l) => l.includes(c.sid) && l.includes('webhook replay guard unavailable'))).toBe(true);

  // Twilio retries while the store is still down: nothing remembered the answer, the same result is worked out again
  const retry = redirectIn((await h.emulator.signedPost(action, gatherParams(c, CARD))).body);
  expect(retry?.target).toBe(`${shop.url}/paid`);
  const { [RESULT_SIGNATURE_PARAM]: sig, ...params } = retry!.query;
  expect(verifyCaptureResult(params, sig, RESULT_SECRET)).toBe(true);
  expect(params).toEqual({ order: '42', CallSid: c.sid, Result: 'internal-error' });
  // the hang-up watch let go: no caller-hung-up for a call the app has back
  await sleep(400);
  expect(shop.returned).toHaveLength(1);
});

it("Twilio's retry of a gather lands on another instance, nothing of the capture in its memory, the store down: the action's query alone names the recordings to resume", async () => {
  shop.recordings = 2;
  // a second instance behind the same Redis and key prefix, as behind a load balancer
  const other = await startHarness({ emulator: h.emulator, flowsDir: d.flowsDir, keyPrefix: h.keyPrefix, env: d.env });
  try {
    let there: ReturnType<typeof redirectIn>;
    let during: string[] = [];
    let c: EmulatedCall | undefined = undefined;
    c = await d.call(async (g) => {
      if (!g.prompt.join(' ').includes('card number')) return null;
      await stopRedis();
      const url = g.action.replace(h.publicUrl, other.publicUrl);
      there = redirectIn((await h.emulator.signedPost(url, gatherParams(c!, CARD))).body);
      during = c!.recordings.map((r) => h.emulator.recordingStatusAt(c!.sid, h.emulator.now(), r.sid));
      return `${CARD}#`;
    });
    await c.ended;
    expect(there?.target).toBe(`${shop.url}/paid`);
    expect(there?.query.Result).toBe('internal-error');
    // resumed by the other instance, from the query, while the call still waited at the prompt
    expect(during).toEqual(['in-progress', 'in-progress']);
    expect(other.logs.lines.some((l) => l.includes('drop-in capture returned to the app after a failed step') && l.includes('"recordings":2'))).toBe(true);
    expectInternalError(c);
  } finally {
    if (redis.down) await redis.up();
    await other.close();
  }
});

it('the store stops mid-step (the last gather, while the recording is resumed): the capture cannot be saved, the app gets internal-error', async () => {
  shop.recordings = 1;
  h.emulator.faults.recordingResume = { delayMs: 1_000, times: 1 };
  const c = await d.call(
    keypad({
      prompt: 'security code',
      run: async () => {
        // once the resume request is in (its fault taken), the store goes
        void waitFor(() => h.emulator.faults.recordingResume === undefined, 'the resume request').then(stopRedis);
      },
    }),
  );
  await c.ended;
  expectInternalError(c);
  const [rec] = c.recordings;
  expect(statesOf(c, rec.sid).at(-2)).toBe('in-progress');
  expect(shop.atReturn).toEqual([{ sid: rec.sid, status: 'in-progress' }]);
});

it("the capture route fails after pausing the app's recording (its call record spoiled mid-step): the recording it paused is resumed, the return audited with the flow", async () => {
  shop.recordings = 1;
  h.emulator.faults.recordingPause = { delayMs: 800, times: 1 };
  const c = await d.call(keypad());
  // while Twilio takes the pause, the record the capture route created stops parsing
  await waitFor(() => h.emulator.faults.recordingPause === undefined, 'the pause request');
  await h.redisStore!.set(keys().call(c.sid), '{"spoiled', 600);
  await c.ended;
  expectInternalError(c);
  expect(c.gathers).toHaveLength(0);
  expect(says(c)).toEqual([HELLO, THANKS]);
  const [rec] = c.recordings;
  expect(statesOf(c, rec.sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  const entries = await auditOf(c.sid);
  expect(entries.map((e) => e.type)).toEqual(expect.arrayContaining(['recording.paused', 'recording.resumed']));
  expect(entries.at(-1)).toMatchObject({ type: 'dropin.returned', flowId: 'card-capture', result: 'internal-error' });
  // the pause was the failed request's own: resumed by its rescue, with no warning of another's
  expectCaptureRouteResumed(c, 1);
});

it("the store goes while the capture route pauses the app's recording: the pause's audit entry is held for a retry, the route fails on the store and resumes the pause; the call goes back with none left paused", async () => {
  shop.recordings = 1;
  h.emulator.faults.recordingPause = { delayMs: 800, times: 1 };
  const c = await d.call(keypad());
  // while Twilio takes the pause, the store goes: the pause's audit entry is held (audit/held.ts), and the route's next write fails
  await waitFor(() => h.emulator.faults.recordingPause === undefined, 'the pause request');
  await stopRedis();
  await c.ended;
  expectInternalError(c);
  expect(c.gathers).toHaveLength(0);
  expect(says(c)).toEqual([HELLO, THANKS]);
  const [rec] = c.recordings;
  expect(statesOf(c, rec.sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  expect(shop.atReturn).toEqual([{ sid: rec.sid, status: 'in-progress' }]);
  const held = h.logs.lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.callSid === c.sid && l.msg === 'audit entry held: the store failed its append, tried again in the background');
  expect(held[0]).toMatchObject({ type: 'recording.paused' });
  // the pause stood (its entry was not lost), so the route's rescue resumes it, its own request's
  expectCaptureRouteResumed(c, 1);
});

it('Redis down as the app redirects the call: straight back with internal-error, nothing asked, nothing paused', async () => {
  shop.recordings = 1;
  shop.onPay = async () => {
    shop.onPay = undefined;
    await stopRedis();
  };
  const c = await d.call(keypad());
  await c.ended;
  expectInternalError(c);
  expect(c.gathers).toHaveLength(0);
  expect(statesOf(c, c.recordings[0].sid)).toEqual(['in-progress', 'stopped']);
});

it("a return URL in a gather's query that is not allow-listed is refused: the apology, never a redirect to it", async () => {
  // signed as Twilio signs (whoever holds the auth token could); a call the store does not know, so the step fails
  const post = (callSid: string, returnUrl: string) =>
    h.emulator.signedPost(`${h.publicUrl}/twilio/gather/1/1?${encodeActionQuery({ returnUrl, paused: [] }, new Date())}`, {
      CallSid: callSid,
      AccountSid: ACCOUNT_SID,
      From: CALLER,
      To: SHOP_NUMBER,
      CallStatus: 'in-progress',
      Digits: CARD,
      FinishedOnKey: '#',
    });
  const tampered = ['https://evil.example.net/paid', `${shop.url}/other`, `${shop.url.replace('127.0.0.1', '127.0.0.1.nip.io')}/paid`];
  for (const [i, returnUrl] of tampered.entries()) {
    const callSid = 'CA' + String(i).repeat(32);
    const res = await post(callSid, returnUrl);
    expect(res.status).toBe(200);
    expect(res.body).toContain('<Hangup/>');
    expect(res.body).not.toContain('<Redirect');
    expect(res.body).not.toContain('evil');
    expect((await auditOf(callSid)).map((e) => e.type)).toContain('dropin.refused');
  }
  // control: the same request with the app's own return URL goes back to it
  const back = redirectIn((await post('CA' + '9'.repeat(32), shop.returnUrl)).body);
  expect(back?.target).toBe(`${shop.url}/paid`);
  expect(back?.query.Result).toBe('internal-error');
});

it("the store goes while the processor is charged (after the capture's save): the app still gets its result, processor-error", async () => {
  shop.recordings = 1;
  // once: a delivery retrying later must not stop the store the next test runs on
  shop.onCharge = async () => {
    shop.onCharge = undefined;
    await stopRedis();
  };
  const c = await d.call(keypad());
  await c.ended;
  expect(shop.returned).toHaveLength(1);
  const r = verified(shop.returned[0]);
  // the delivery could not record the gateway's answer: it is not confirmed
  expect(r).toMatchObject({ order: '42', CallSid: c.sid, Result: 'processor-error', card_valid: 'true', cvv_valid: 'true' });
  expect(says(c)).toEqual([HELLO, CARD_PROMPT, EXPIRY_PROMPT, CVV_PROMPT, THANKS]);
  expect(statesOf(c, c.recordings[0].sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  const lines = h.logs.lines.filter((l) => l.includes(c.sid));
  expect(lines.some((l) => l.includes('drop-in capture: processor-error not saved on the call'))).toBe(true);
  // the store down, the call's audit entries (the return's) are held for a retry, not lost (audit/held.ts)
  expect(lines.some((l) => l.includes('audit entry held: the store failed its append'))).toBe(true);
});

it('the app redirects to a capture again after one that went back before it created a record: refused with the apology, never a silent hangup', async () => {
  const callSid = 'CA' + 'b'.repeat(32);
  const capture = () =>
    h.emulator.signedPost(`${h.publicUrl}/twilio/capture/card-capture?return=${encodeURIComponent(shop.returnUrl)}`, shopCallParams(callSid));
  // the store down as the capture starts: the call goes back with internal-error, no record made
  await stopRedis();
  const first = redirectIn((await capture()).body);
  expect(first?.query.Result).toBe('internal-error');
  await redis.up();
  // the return is saved once the store is back: the call's trail, and no record
  await waitFor(async () => (await fetch(`${h.url}/readyz`)).status === 200, 'the service to be ready again', 10_000);
  await waitFor(async () => (await auditOf(callSid)).some((e) => e.type === 'dropin.returned'), 'the return to be audited', 10_000);
  expect(await h.app.services.calls.get(callSid)).toBeNull();

  const again = await capture();
  expect(again.status).toBe(200);
  expect(again.body).toContain('<Say');
  expect(again.body).toContain('<Hangup/>');
  expect(again.body).not.toContain('<Gather');
  expect((await auditOf(callSid)).at(-1)).toMatchObject({ type: 'dropin.refused', reason: 'call-already-known' });
  expect(await h.app.services.calls.get(callSid)).toBeNull();
});
