/**
 * A signed gather request of a drop-in capture, captured (a proxy's log) and sent again while the
 * store is down, at the moment the same call is at a later ask of the capture: the card's
 * request, sent while the security code is asked. Twilio's signature holds no time and the replay
 * guard is in the store that is down, so the request's `dc=` query is read as the card's own
 * failure would read it. Past the age one document of a capture can last
 * (DROPIN_QUERY_MAX_AGE_SECONDS) it resumes nothing: the app's recording stays paused under the
 * security code's keys, and the request gets what any failed step of a capture gets, the call
 * back to its app with `internal-error`. Within it, a late webhook of the capture itself still
 * resumes the app's recordings from its query alone, on an instance that never paused them.
 *
 * Within the bound, a copy of a request the instance received already (the same signature: the
 * request byte for byte, from a proxy's log) resumes nothing either (twilio/seen-requests.ts).
 *
 * The service's clock (BuildOptions.now, the one the runner writes a query's time by and the
 * rescue reads its age by) runs `skewMs` ahead of the real one: moving it on stands for the
 * minutes between the two asks, through the real code path.
 */
import type { EmulatedCall, GatherRequest } from '../../tools/emulator';
import { ACTION_QUERY_PARAM, encodeActionQuery } from '../../src/dropin/action-query';
import { DROPIN_QUERY_MAX_AGE_SECONDS } from '../../src/twilio/dropin-rescue';
import { CALLER, CARD, cardCaptureFlow, says, SHOP_NUMBER, shopCallParams, startDropinShop, verified, type DropinShop } from '../support/dropin';
import { CARD_PROMPT, CVV_PROMPT, EXPIRY_PROMPT } from '../support/card-flows';
import { wideDecode } from '../support/decoders';
import { ACCOUNT_SID, startHarness, waitFor, type Harness } from '../support/harness';
import { PrivateRedis } from '../support/private-redis';
import { startWebhookTap } from '../support/webhook-tap';
import { uniquePrefix } from '../support/redis';
import type { ShopApp } from '../support/shop-app';
import { currentExpiry, holdsValue } from '../support/values';

const EXPIRY = currentExpiry(14);
const CVV = '737';
const HELLO = 'Hello from Example Shop.';
const THANKS = 'Thank you for your payment.';

let redis: PrivateRedis;
let d: DropinShop;
let h: Harness;
let shop: ShopApp;
let skewMs = 0;
const now = () => new Date(Date.now() + skewMs);

beforeAll(async () => {
  redis = await PrivateRedis.start();
  d = await startDropinShop(
    { 'card-capture': cardCaptureFlow() },
    { keyPrefix: uniquePrefix('dropin-replay'), env: { REDIS_URL: redis.url }, build: { dropinProcessorWaitMs: 1_000, now } },
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
  shop.recordings = 1;
});

afterEach(async () => {
  skewMs = 0;
  if (redis.down) await redis.up();
  await waitFor(async () => (await fetch(`${h.url}/readyz`)).status === 200, 'the store back', 10_000);
});

/** the query of a TwiML <Redirect>'s URL, with its target */
function redirectIn(twiml: string): { target: string; query: Record<string, string> } | undefined {
  const m = /<Redirect method="POST">([^<]+)<\/Redirect>/.exec(twiml);
  if (!m) return undefined;
  const u = new URL(m[1].replace(/&amp;/g, '&'));
  return { target: u.origin + u.pathname, query: Object.fromEntries(u.searchParams) };
}

/** the action of a TwiML guard (a <Gather> that says nothing) */
function guardActionIn(twiml: string): string | undefined {
  const m = /<Gather [^>]*action="([^"]+)"/.exec(twiml);
  return m ? m[1].replace(/&amp;/g, '&') : undefined;
}

/** a gather action request as Twilio sent it */
function gatherParams(c: EmulatedCall, digits: string, finishedOnKey?: string): Record<string, string> {
  return shopCallParams(c.sid, finishedOnKey ? { Digits: digits, FinishedOnKey: finishedOnKey } : { Digits: digits });
}

const recordingOf = (c: EmulatedCall) => c.recordings[0];
const statuses = (c: EmulatedCall) => h.emulator.recordingStatuses(c.sid, recordingOf(c).sid);
const statusNow = (c: EmulatedCall) => h.emulator.recordingStatusAt(c.sid, h.emulator.now(), recordingOf(c).sid);
const logOf = (harness: Harness, c: EmulatedCall) => harness.logs.lines.filter((l) => l.includes(c.sid)).map((l) => JSON.parse(l) as Record<string, unknown>);

function expectNothingKeyedLogged(harness: Harness, c: EmulatedCall): void {
  for (const l of logOf(harness, c)) {
    const { time: _t, pid: _p, ...rest } = l;
    const line = JSON.stringify(rest);
    expect(holdsValue(line, CARD)).toBe(false);
    expect(line).not.toContain(CALLER);
  }
}

/** the app got the call back once, from Twilio, with internal-error */
function expectInternalError(c: EmulatedCall): void {
  expect(shop.returned).toHaveLength(1);
  expect(shop.returned[0].fromTwilio).toBe(true);
  expect(verified(shop.returned[0])).toEqual({ order: '42', CallSid: c.sid, Result: 'internal-error' });
  expect(says(c).at(-1)).toBe(THANKS);
}

/** what the call saw of a copy sent at its security code's ask (replayAtSecurityCode) */
interface ReplayRun {
  c: EmulatedCall;
  /** the card's gather action, as Twilio requested it */
  cardAction: string;
  replayed: { status: number; body: string };
  /** the app's recording's statuses when the security code was asked, and just after the copy */
  beforeReplay: string[];
  afterReplay: string;
}

/**
 * A capture call (card, expiry, security code) where, as the security code is asked, the store
 * goes down and `replay` sends its copy; `atExpiry` runs as the expiry is asked.
 */
async function replayAtSecurityCode(
  replay: (c: EmulatedCall, cardAction: string) => Promise<{ status: number; body: string }>,
  atExpiry: () => void = () => undefined,
): Promise<ReplayRun> {
  let cardAction = '';
  let replayed = { status: 0, body: '' };
  let beforeReplay: string[] = [];
  let afterReplay = '';
  let c: EmulatedCall | undefined = undefined;
  c = await d.call(async (g: GatherRequest) => {
    const p = g.prompt.join(' ');
    if (p.includes('card number')) {
      cardAction = g.action;
      return `${CARD}#`;
    }
    if (p.includes('expiry')) {
      atExpiry();
      return EXPIRY;
    }
    if (!p.includes('security code')) return null;
    beforeReplay = statuses(c!);
    await redis.stop();
    replayed = await replay(c!, cardAction);
    afterReplay = statusNow(c!);
    return CVV;
  });
  await c.ended;
  return { c, cardAction, replayed, beforeReplay, afterReplay };
}

/**
 * The copy got the capture's safe answer, the call back to its app with internal-error, and
 * resumed nothing: the app's recording, paused for the capture, stayed paused until the security
 * code's own webhook failed too (the store down) and resumed it from its query, after the code,
 * which it never heard.
 */
function expectCopyResumedNothing(run: ReplayRun): void {
  const { c } = run;
  expect(says(c)).toEqual([HELLO, CARD_PROMPT, EXPIRY_PROMPT, CVV_PROMPT, THANKS]);
  expect(run.beforeReplay).toEqual(['in-progress', 'paused']);
  expect(run.replayed.status).toBe(200);
  const back = redirectIn(run.replayed.body);
  expect(back?.target).toBe(`${shop.url}/paid`);
  expect(back?.query.Result).toBe('internal-error');
  expect(run.afterReplay).toBe('paused');
  expect(statuses(c)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  expect(wideDecode(c.recordingAudio)).toBe('');
  expectInternalError(c);
  expectNothingKeyedLogged(h, c);
}

const returnedLog = (c: EmulatedCall) => logOf(h, c).filter((l) => l.msg === 'drop-in capture returned to the app after a failed step');
const refusedQueryLog = (c: EmulatedCall) =>
  logOf(h, c).filter((l) => l.msg === 'a drop-in query resumes nothing: the call returned to its app with its recordings left paused');

test("the card's signed request sent again past the bound, the store down, while the security code is asked: nothing resumed, the call's answer internal-error, and the code never in the app's recording", async () => {
  const run = await replayAtSecurityCode(
    (c, cardAction) => h.emulator.signedPost(cardAction, gatherParams(c, CARD, '#')),
    // the minutes between the two asks: the card's query is past its age when it comes back
    () => (skewMs = (DROPIN_QUERY_MAX_AGE_SECONDS + 1) * 1000),
  );
  expectCopyResumedNothing(run);
  const refused = refusedQueryLog(run.c);
  expect(refused).toHaveLength(1);
  expect(refused[0]).toMatchObject({ level: 40, reason: 'expired' });
  expect(refused[0].ageSeconds).toBeGreaterThan(DROPIN_QUERY_MAX_AGE_SECONDS);
  // the card's query said when it was written
  expect(new URL(run.cardAction).searchParams.get(ACTION_QUERY_PARAM)).toMatch(/^2\.[0-9a-z]+\./);
}, 60_000);

test("the card's request exactly as Twilio sent it (a proxy's log), sent again within the bound to the instance that got it, the store down, while the security code is asked: nothing resumed, internal-error, the code in no recording", async () => {
  // a proxy in front of the instance, keeping each request byte for byte
  const tap = await startWebhookTap(h.url);
  h.emulator.routeOrigin(h.publicUrl, tap.url);
  try {
    const run = await replayAtSecurityCode((_c, cardAction) => {
      const card = tap.requests.find((r) => new URL(h.publicUrl + r.url).href === new URL(cardAction).href);
      expect(card?.body.toString()).toContain(`Digits=${CARD}`);
      return tap.resend(card!, h.url);
    });
    // well within its query's age: only this instance's memory of the card's request tells the copy apart
    expect(new URL(run.cardAction).searchParams.get(ACTION_QUERY_PARAM)).toMatch(/^2\.[0-9a-z]+\./);
    // the security code's own webhook is its first arrival: it resumed
    expectCopyResumedNothing(run);
    const refused = refusedQueryLog(run.c);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 40, reason: 'replayed' });
    expect(returnedLog(run.c).map((l) => l.recordings)).toEqual([0, 1]);
  } finally {
    h.emulator.routeOrigin(h.publicUrl, h.url);
    await tap.close();
  }
}, 60_000);

test("within the bound, the security code's webhook coming late, the store down, on an instance that never paused the recording: resumed from its query alone, the call back to its app", async () => {
  // a second instance behind the same Redis and key prefix, on the same clock
  const other = await startHarness({ emulator: h.emulator, flowsDir: d.flowsDir, keyPrefix: h.keyPrefix, env: d.env, build: { now } });
  try {
    let there: ReturnType<typeof redirectIn>;
    let during = '';
    let guarded = '';
    let cvvAction = '';
    let c: EmulatedCall | undefined = undefined;
    c = await d.call(async (g) => {
      const p = g.prompt.join(' ');
      if (p.includes('card number')) return `${CARD}#`;
      if (p.includes('expiry')) return EXPIRY;
      if (!p.includes('security code')) return null;
      cvvAction = g.action;
      // the caller took their time: the code's answer comes late in its query's age
      skewMs = (DROPIN_QUERY_MAX_AGE_SECONDS - 10) * 1000;
      await redis.stop();
      // the code ended on its count: keys may follow it, so a guard comes before the return, its action with the gather's query
      const guard = guardActionIn((await h.emulator.signedPost(cvvAction.replace(h.publicUrl, other.publicUrl), gatherParams(c!, CVV))).body);
      expect(guard && new URL(guard).pathname).toBe('/twilio/guard/2/failed');
      expect(new URL(guard!).searchParams.get(ACTION_QUERY_PARAM)).toBe(new URL(cvvAction).searchParams.get(ACTION_QUERY_PARAM));
      guarded = statusNow(c!);
      there = redirectIn((await h.emulator.signedPost(guard!, gatherParams(c!, ''))).body);
      during = statusNow(c!);
      // the caller keys nothing more: the gather ends on its silence, the store still down
      return null;
    });
    await c.ended;
    expect(new URL(cvvAction).searchParams.get(ACTION_QUERY_PARAM)).toMatch(/^2\.[0-9a-z]+\./);
    expect(there?.target).toBe(`${shop.url}/paid`);
    expect(there?.query.Result).toBe('internal-error');
    // resumed by the other instance, from the query, once the guard had ended, while the call still waited at the prompt
    expect(guarded).toBe('paused');
    expect(during).toBe('in-progress');
    const rescued = logOf(other, c).filter((l) => l.msg === 'drop-in capture returned to the app after a failed step');
    expect(rescued).toHaveLength(1);
    expect(rescued[0]).toMatchObject({ recordings: 1 });
    expect(logOf(other, c).some((l) => l.reason === 'expired')).toBe(false);
    expectInternalError(c);
    expectNothingKeyedLogged(other, c);
  } finally {
    if (redis.down) await redis.up();
    await other.close();
  }
}, 60_000);

/** the capture route's URL as the shop redirects to it (shop-app.ts), and its request as Twilio sent it */
const captureUrl = () => `${h.publicUrl}/twilio/capture/card-capture?return=${encodeURIComponent(shop.returnUrl)}`;
function captureParams(c: EmulatedCall): Record<string, string> {
  return shopCallParams(c.sid);
}

test("the capture route's signed request sent again, the store down, while the security code is asked: the call's answer internal-error, nothing resumed, the code in no recording", async () => {
  // the request that started the capture, as a proxy logged it: it names no recording and holds no time;
  // it fails at the replay guard, and what the capture route paused (held by this instance) is not its own
  const run = await replayAtSecurityCode((c) => h.emulator.signedPost(captureUrl(), captureParams(c)));
  expectCopyResumedNothing(run);
  const refused = logOf(h, run.c).filter((l) => l.msg === 'a failed step resumes no recording it did not pause: those held stay paused');
  expect(refused).toHaveLength(1);
  expect(refused[0]).toMatchObject({ level: 40, route: 'capture', reason: 'paused-by-another-request', recordings: 1 });
  // the security code's own webhook, which ended on its count, returned the call once its guard had
  expect(returnedLog(run.c).map((l) => [l.route, l.recordings])).toEqual([
    ['capture', 0],
    ['guard', 1],
  ]);
}, 60_000);

test.each([
  ['untimed', (q: string) => q.replace(/=2\.[0-9a-z]+\./, '=1.')],
  ['ahead', (q: string) => q],
])(
  'a query of no known age (version 1) or dated ahead of the clock: the call back to its app with internal-error, nothing resumed (%s)',
  async (reason, shape) => {
    // a call the store does not know, so the step fails; the query names a recording to resume
    const callSid = 'CA' + (reason === 'ahead' ? 'a' : 'c').repeat(32);
    const written = new Date(Date.now() + 60_000);
    const query = shape(encodeActionQuery({ returnUrl: shop.returnUrl, paused: ['RE' + 'd'.repeat(32)] }, written));
    const res = await h.emulator.signedPost(`${h.publicUrl}/twilio/gather/1/1?${query}`, {
      CallSid: callSid,
      AccountSid: ACCOUNT_SID,
      From: CALLER,
      To: SHOP_NUMBER,
      CallStatus: 'in-progress',
      Digits: CARD,
      FinishedOnKey: '#',
    });
    expect(redirectIn(res.body)?.query.Result).toBe('internal-error');
    const lines = h.logs.lines.filter((l) => l.includes(callSid)).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === 'a drop-in query resumes nothing: the call returned to its app with its recordings left paused')).toEqual([
      expect.objectContaining({ level: 40, reason }),
    ]);
    // the SID its query names never asked of Twilio: no resume, none failed
    expect(lines.find((l) => l.msg === 'drop-in capture returned to the app after a failed step')).toMatchObject({ recordings: 0 });
    expect(lines.some((l) => l.recordingSid !== undefined)).toBe(false);
  },
);
