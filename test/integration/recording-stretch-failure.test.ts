/**
 * A later webhook of a sensitive stretch fails with the store down: the card's pause (the flow's
 * own recording, and another application's, started over REST before the call reached the flow)
 * was acknowledged and the card's Gather asked, then the store (a Redis of the test's own) stops.
 * The session, which says the recordings are paused, is out of reach; the stretch's actions carry
 * their SIDs (signed by Twilio with the URL), so the safe answer resumes them first and the
 * conversation with the human the flow dials is recorded. Never while a key of a field could still
 * land in them: an entry that did not end on '#' is followed by a guard first. A request whose
 * signature does not hold resumes nothing, and no log line holds a key.
 */
import { fieldFlow, CARD_PROMPT, CARD_STEPS, EXPIRY_PROMPT, MENU_PROMPT } from '../support/card-flows';
import { wideDecode } from '../support/decoders';
import { ACCOUNT_SID, freePort, startHarness, waitFor, type Harness } from '../support/harness';
import { PrivateRedis } from '../support/private-redis';
import { ShopApp } from '../support/shop-app';
import { currentExpiry, holdsValue } from '../support/values';
import { GUARD_MAX_SECONDS } from '../../src/flows/steps/collect';
import { STRETCH_QUERY_PARAM } from '../../src/recording/stretch-query';
import type { EmulatedCall, GatherRequest } from '../../tools/emulator';

const NUMBER = '+15005550042';
const CALLER = '+15550008888';
const CARD = '4111111111111111';
const EXPIRY = currentExpiry(14);
/** the card, the expiry and the security code: one stretch */
const FLOW = fieldFlow('stretch-card', NUMBER, CARD_STEPS.card + CARD_STEPS.expiry + CARD_STEPS.cvv, { record: true });

let redis: PrivateRedis;
let h: Harness;
let shop: ShopApp;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  h = await startHarness({ flows: { 'stretch-card': FLOW }, env: { REDIS_URL: redis.url } });
  shop = new ShopApp(h.publicUrl, h.emulator.baseUrl, await freePort(), CARD);
  await shop.start();
}, 30_000);

afterEach(async () => {
  // the next call on a store that answers again (it comes back empty)
  if (redis.down) await redis.up();
  await waitFor(async () => (await fetch(`${h.url}/readyz`)).status === 200, 'the store back', 10_000);
});

afterAll(async () => {
  await shop?.app.close();
  await h?.close();
  await redis.close();
});

/**
 * A call to the flow through the other application, which answers it, starts its recording over
 * REST and redirects it to the flow's Voice URL; the caller answers the menu, then `at` each
 * prompt of the stretch.
 */
async function call(at: (g: GatherRequest, c: () => EmulatedCall) => string | Promise<string>): Promise<{ c: EmulatedCall; own: string; other: string }> {
  shop.reset();
  shop.recordings = 1;
  shop.redirectTo = h.voiceUrl;
  let placed: EmulatedCall | undefined = undefined;
  placed = await h.emulator.placeCall({
    from: CALLER,
    to: NUMBER,
    voiceUrl: `${shop.url}/voice`,
    onGather: async (g) => {
      if (g.prompt.join(' ') !== MENU_PROMPT) return at(g, () => placed!);
      // a caller takes a moment over the menu: by then Twilio has named the flow's recording
      // (while only Twilio.CURRENT names it, a stretch with another recording running fails closed)
      await waitFor(async () => (await h.app.services.calls.get(placed!.sid))?.recording.sid, "the flow's recording's SID");
      return '1#';
    },
  });
  const c = placed;
  await waitFor(() => c.transcript.some((t) => t.verb === 'Dial'), 'the safe dial', 20_000);
  // the app's recording began first; the flow's own with its first document
  const [other, own] = c.recordings.map((r) => r.sid);
  return { c, own, other };
}

const prompts = (c: EmulatedCall) => c.transcript.flatMap((t) => (t.verb === 'Gather' ? t.prompt : []));
const statuses = (c: EmulatedCall, sid: string) => h.emulator.recordingStatuses(c.sid, sid);
const dialAt = (c: EmulatedCall) => h.emulator.timelineFor(c.sid).find((e) => e.type === 'twiml-verb' && e.entry.verb === 'Dial')!.t;
const gathersEnded = (c: EmulatedCall) => h.emulator.timelineFor(c.sid).filter((e) => e.type === 'gather');
/** when the recording ran again after its pause */
function resumedAt(c: EmulatedCall, sid: string): number {
  const states = h.emulator.timelineFor(c.sid).flatMap((e) => (e.type === 'recording' && e.recordingSid === sid ? [e] : []));
  const paused = states.findIndex((e) => e.status === 'paused');
  return states.slice(paused + 1).find((e) => e.status === 'in-progress')?.t ?? Number.NaN;
}

/** the call's log lines, without their own time and pid (an epoch millisecond may hold any digits) */
const callLog = (c: EmulatedCall): string[] =>
  h.logs.lines
    .filter((l) => l.includes(c.sid))
    .map((l) => {
      const { time: _t, pid: _p, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return JSON.stringify(rest);
    });

function expectResumedForTheDial(c: EmulatedCall, own: string, other: string): void {
  for (const sid of [own, other]) {
    // paused once for the stretch, and running again: not left paused for the rest of the call
    expect(statuses(c, sid).slice(0, 3)).toEqual(['in-progress', 'paused', 'in-progress']);
    expect(h.emulator.recordingStatusAt(c.sid, dialAt(c), sid)).toBe('in-progress');
    // the menu's keys, and not one key of the stretch
    expect(wideDecode(c.recordings.find((r) => r.sid === sid)!.mixed)).toBe('1#');
  }
  for (const line of callLog(c)) {
    expect(line).not.toContain(CARD);
    expect(holdsValue(line, `${EXPIRY}20`)).toBe(false);
  }
}

test("the store stops after the card: the expiry's webhook fails on its count, a guard takes the keys past it, then both recordings run again for the apology and the dial", async () => {
  const { c, own, other } = await call(async (g) => {
    if (g.prompt.join(' ') === CARD_PROMPT) return `${CARD}#`;
    // the expiry is asked (its action carries the stretch's recordings): the store goes
    expect(new URL(g.action).searchParams.has(STRETCH_QUERY_PARAM)).toBe(true);
    await redis.stop();
    // MMYYYY: the Gather ends on MMYY, the last two keys follow it
    return `${EXPIRY}20`;
  });
  expect(c.recordings).toHaveLength(2);
  // asked no further: no security code
  expect(prompts(c)).toEqual([MENU_PROMPT, CARD_PROMPT, EXPIRY_PROMPT]);
  const apology = c.transcript.filter((t) => t.verb === 'Say').at(-1);
  expect(apology).toMatchObject({ text: expect.stringContaining('sorry') });
  // a guard (a Gather that says nothing) ran after the expiry, its action the guard's with the same query
  const [, , expiryEnded, guardEnded] = gathersEnded(c);
  expect(new URL(guardEnded.action).pathname).toBe('/twilio/guard/2/failed');
  expect(new URL(guardEnded.action).searchParams.get(STRETCH_QUERY_PARAM)).toBe(new URL(expiryEnded.action).searchParams.get(STRETCH_QUERY_PARAM));
  // the guard at its longest (which ending it was, count or silence, only the session knew), taking no '#'
  expect(c.transcript.find((t) => t.verb === 'Gather' && t.prompt.length === 0)).toMatchObject({ finishOnKey: '', timeout: GUARD_MAX_SECONDS });
  // the two keys past the expiry's count fell in the guard
  expect(guardEnded.digits).toBe('2 digits');
  for (const sid of [own, other]) {
    // paused while they were pressed, until the caller fell silent for the guard: only then resumed
    expect(h.emulator.recordingStatusAt(c.sid, guardEnded.t, sid)).toBe('paused');
    expect(resumedAt(c, sid)).toBeGreaterThan(guardEnded.t);
  }
  expectResumedForTheDial(c, own, other);
  expect(callLog(c).some((l) => l.includes('a guard before its recordings are resumed'))).toBe(true);
  expect(callLog(c).some((l) => l.includes('the recordings it held paused resumed before the safe answer'))).toBe(true);
  await c.hangup();
}, 40_000);

test('the store answers again before that guard ends: the guard still resumes both and answers the apology, and the flow does not go on from the failed step', async () => {
  const { c, own, other } = await call(async (g, placed) => {
    if (g.prompt.join(' ') === CARD_PROMPT) return `${CARD}#`;
    // Redis takes the expiry's commands and answers none, until the expiry's webhook has had its answer (the guard)
    redis.freeze();
    const answered = () => h.emulator.timelineFor(placed().sid).some((e) => e.type === 'webhook' && e.url.includes('/twilio/gather/2/'));
    void waitFor(answered, "the expiry's answer", 10_000).then(() => redis.thaw());
    return `${EXPIRY}20`;
  });
  expect(prompts(c)).toEqual([MENU_PROMPT, CARD_PROMPT, EXPIRY_PROMPT]);
  const [, , , guardEnded] = gathersEnded(c);
  expect(new URL(guardEnded.action).pathname).toBe('/twilio/guard/2/failed');
  for (const sid of [own, other]) expect(h.emulator.recordingStatusAt(c.sid, guardEnded.t, sid)).toBe('paused');
  expectResumedForTheDial(c, own, other);
  // the guard's webhook found the store: each resume is in the call's audit trail
  const entries = (await h.app.services.audit.list(c.sid)) as unknown as Record<string, unknown>[];
  expect(entries.filter((e) => e.type === 'recording.resumed').map((e) => e.recordingSid)).toEqual(expect.arrayContaining([own, other]));
  await c.hangup();
}, 40_000);

test("the store stops while the card is asked: requests whose signature does not hold resume nothing; the card's webhook, ended on '#', resumes both at once", async () => {
  let refused: number[] = [];
  let pausedMeanwhile: string[][] = [];
  const { c, own, other } = await call(async (g, placed) => {
    await redis.stop();
    const params = { CallSid: placed().sid, AccountSid: ACCOUNT_SID, From: CALLER, To: NUMBER, CallStatus: 'in-progress', Digits: CARD, FinishedOnKey: '#' };
    const bare = g.action.split('?')[0];
    refused = [
      // unsigned
      (await h.emulator.signedPost(g.action, params, { signature: null })).status,
      // signed for the action without its query, sent with it
      (await h.emulator.signedPost(g.action, params, { signature: h.emulator.signature(bare, params) })).status,
      // signed with another key
      (await h.emulator.signedPost(g.action, params, { signature: 'bm90IGEgc2lnbmF0dXJlIG9mIHR3aWxpbw==' })).status,
    ];
    // signed as Twilio signs, with a query this service never wrote: the apology, nothing resumed
    const odd = await h.emulator.signedPost(`${bare}?${STRETCH_QUERY_PARAM}=1.${'A'.repeat(21)}`, params);
    expect(odd.body).toContain('<Dial');
    pausedMeanwhile = placed().recordings.map((r) => statuses(placed(), r.sid));
    return `${CARD}#`;
  });
  expect(refused).toEqual([400, 403, 403]);
  expect(pausedMeanwhile).toEqual([
    ['in-progress', 'paused'],
    ['in-progress', 'paused'],
  ]);
  expect(prompts(c)).toEqual([MENU_PROMPT, CARD_PROMPT]);
  // no guard: the caller said they were done
  expect(h.emulator.timelineFor(c.sid).some((e) => e.type === 'webhook' && e.url.includes('/twilio/guard/'))).toBe(false);
  const [, cardEnded] = gathersEnded(c);
  for (const sid of [own, other]) expect(resumedAt(c, sid)).toBeGreaterThan(cardEnded.t);
  expectResumedForTheDial(c, own, other);
  await c.hangup();
}, 40_000);
