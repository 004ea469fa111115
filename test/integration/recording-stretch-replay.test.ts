/**
 * A signed gather request of a sensitive stretch, captured (a proxy's log) and sent again while
 * the store is down, at the moment the same call is in a later stretch: the card's request,
 * sent while the security code is asked. Twilio's signature holds no time and the replay guard is
 * in the store that is down, so the request's `rp=` query is read as the card's own failure
 * would read it. Past the age one ask can last (STRETCH_QUERY_MAX_AGE_SECONDS) it resumes
 * nothing: the call's recording stays paused under the security code's keys. Within it, a late
 * webhook of the stretch itself still resumes before the apology, as it always did. And a query
 * resumes only under the request's own call: signed with another call's CallSid (which only the
 * auth token's holder could sign), it names no recording Twilio finds there.
 *
 * Within the bound, a copy of a request this instance received already (the same signature: the
 * request byte for byte, from a proxy's log) resumes nothing either (twilio/seen-requests.ts).
 *
 * The service's clock (BuildOptions.now, the one the runner writes a query's time by and the
 * rescue reads its age by) runs `skew` ahead of the real one: moving it on stands for the minutes
 * between the two stretches, through the real code path.
 */
import { fieldFlow, CARD_PROMPT, CARD_STEPS, CVV_PROMPT, MENU_PROMPT } from '../support/card-flows';
import { wideDecode } from '../support/decoders';
import { ACCOUNT_SID, startHarness, waitFor, type Harness } from '../support/harness';
import { PrivateRedis } from '../support/private-redis';
import { startWebhookTap } from '../support/webhook-tap';
import { STRETCH_QUERY_PARAM } from '../../src/recording/stretch-query';
import { STRETCH_QUERY_MAX_AGE_SECONDS } from '../../src/twilio/stretch-rescue';
import type { EmulatedCall, GatherRequest } from '../../tools/emulator';

const NUMBER = '+15005550044';
const CALLER = '+15550007777';
const CARD = '4111111111111111';
const CVV = '737';
const NEXT_PROMPT = 'Press 2 to go on, then hash.';
/** the card, a question the recording hears, then the security code: two stretches */
const FLOW = fieldFlow(
  'stretch-replay',
  NUMBER,
  CARD_STEPS.card +
    `  - collect: next
    kind: digits
    sensitive: false
    minLength: 1
    maxLength: 1
    prompt: "${NEXT_PROMPT}"
` +
    CARD_STEPS.cvv,
  { record: true },
);

let redis: PrivateRedis;
let h: Harness;
let skewMs = 0;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  h = await startHarness({
    flows: { 'stretch-replay': FLOW },
    env: { REDIS_URL: redis.url },
    build: { now: () => new Date(Date.now() + skewMs) },
  });
}, 30_000);

afterEach(async () => {
  skewMs = 0;
  if (redis.down) await redis.up();
  await waitFor(async () => (await fetch(`${h.url}/readyz`)).status === 200, 'the store back', 10_000);
});

afterAll(async () => {
  await h?.close();
  await redis.close();
});

/** a call to the flow: the menu, the card ended on '#' (its action, query and all, handed on), `next`, then `atCvv` at the security code */
async function call(opts: { beforeCvv?: () => void; atCvv: (g: GatherRequest, c: () => EmulatedCall, cardAction: string) => Promise<string> }) {
  let placed: EmulatedCall | undefined = undefined;
  let cardAction = '';
  placed = await h.emulator.placeCall({
    from: CALLER,
    to: NUMBER,
    voiceUrl: h.voiceUrl,
    onGather: async (g) => {
      const prompt = g.prompt.join(' ');
      if (prompt === MENU_PROMPT) {
        // by then Twilio has named the flow's recording: the stretch pauses it by its SID
        await waitFor(async () => (await h.app.services.calls.get(placed!.sid))?.recording.sid, "the flow's recording's SID");
        return '1#';
      }
      if (prompt === CARD_PROMPT) {
        cardAction = g.action;
        return `${CARD}#`;
      }
      if (prompt === NEXT_PROMPT) {
        opts.beforeCvv?.();
        return '2#';
      }
      if (prompt === CVV_PROMPT) return opts.atCvv(g, () => placed!, cardAction);
      return '1#';
    },
  });
  const c = placed;
  await waitFor(() => c.transcript.some((t) => t.verb === 'Dial'), 'the safe dial', 30_000);
  return { c, cardAction };
}

const recordingOf = (c: EmulatedCall) => c.recordings[0];
const statuses = (c: EmulatedCall) => h.emulator.recordingStatuses(c.sid, recordingOf(c).sid);
const prompts = (c: EmulatedCall) => c.transcript.flatMap((t) => (t.verb === 'Gather' ? t.prompt : []));
const callLog = (c: EmulatedCall) => h.logs.lines.filter((l) => l.includes(c.sid)).map((l) => JSON.parse(l) as Record<string, unknown>);

function expectNoKeyLogged(c: EmulatedCall): void {
  for (const l of callLog(c)) {
    const { time: _t, pid: _p, ...rest } = l;
    const line = JSON.stringify(rest);
    expect(line).not.toContain(CARD);
    expect(line).not.toContain(CALLER);
  }
}

test("the card's signed request sent again past the bound, the store down, while the security code is asked: nothing resumed, the apology, and the code never in the recording", async () => {
  let replayed = { status: 0, body: '' };
  let afterReplay: string[] = [];
  const { c, cardAction } = await call({
    // the minutes between the two stretches: the card's query is past its age when it comes back
    beforeCvv: () => (skewMs = (STRETCH_QUERY_MAX_AGE_SECONDS + 1) * 1000),
    atCvv: async (_g, placed, captured) => {
      // the second stretch: the recording paused again for the code
      expect(statuses(placed())).toEqual(['in-progress', 'paused', 'in-progress', 'paused']);
      await redis.stop();
      const params = { CallSid: placed().sid, AccountSid: ACCOUNT_SID, From: CALLER, To: NUMBER, CallStatus: 'in-progress', Digits: CARD, FinishedOnKey: '#' };
      replayed = await h.emulator.signedPost(captured, params);
      afterReplay = statuses(placed());
      return CVV;
    },
  });
  expect(prompts(c)).toEqual([MENU_PROMPT, CARD_PROMPT, NEXT_PROMPT, CVV_PROMPT]);
  // the replay got the apology and its dial, and resumed nothing
  expect(replayed.status).toBe(200);
  expect(replayed.body).toContain('sorry');
  expect(replayed.body).toContain('<Dial');
  expect(afterReplay).toEqual(['in-progress', 'paused', 'in-progress', 'paused']);
  // what the recording heard: the menu's keys and the question's, not one of the card's or the code's
  expect(wideDecode(recordingOf(c).mixed)).toBe('1#2#');
  const refused = callLog(c).filter((l) => l.msg === 'a stretch query resumes nothing: its recordings left paused for the safe answer');
  expect(refused).toHaveLength(1);
  expect(refused[0]).toMatchObject({ level: 40, reason: 'expired' });
  expect(refused[0].ageSeconds).toBeGreaterThan(STRETCH_QUERY_MAX_AGE_SECONDS);
  // the card's query said when it was written
  expect(new URL(cardAction).searchParams.get(STRETCH_QUERY_PARAM)).toMatch(/^2\.[0-9a-z]+\./);
  expectNoKeyLogged(c);
  await c.hangup();
}, 60_000);

test("within the bound, the security code's own webhook failing late with the store down still resumes the recording before the apology and the dial", async () => {
  let cvvAction = '';
  const { c } = await call({
    atCvv: async (g) => {
      cvvAction = g.action;
      // the caller took their time: the code's answer comes late in its query's age, leaving
      // room for the guard that follows an entry ended on its count
      skewMs = (STRETCH_QUERY_MAX_AGE_SECONDS - 15) * 1000;
      await redis.stop();
      return CVV;
    },
  });
  expect(new URL(cvvAction).searchParams.get(STRETCH_QUERY_PARAM)).toMatch(/^2\.[0-9a-z]+\./);
  expect(prompts(c)).toEqual([MENU_PROMPT, CARD_PROMPT, NEXT_PROMPT, CVV_PROMPT]);
  // the code ended on its count: a guard first, carrying the code's query, then the resume
  const guardEnded = h.emulator
    .timelineFor(c.sid)
    .filter((e) => e.type === 'gather')
    .at(-1)!;
  expect(new URL(guardEnded.action).pathname).toBe('/twilio/guard/3/failed');
  expect(new URL(guardEnded.action).searchParams.get(STRETCH_QUERY_PARAM)).toBe(new URL(cvvAction).searchParams.get(STRETCH_QUERY_PARAM));
  expect(h.emulator.recordingStatusAt(c.sid, guardEnded.t, recordingOf(c).sid)).toBe('paused');
  // paused for each stretch, and running again for the dial
  expect(statuses(c).slice(0, 5)).toEqual(['in-progress', 'paused', 'in-progress', 'paused', 'in-progress']);
  const dialAt = h.emulator.timelineFor(c.sid).find((e) => e.type === 'twiml-verb' && e.entry.verb === 'Dial')!.t;
  expect(h.emulator.recordingStatusAt(c.sid, dialAt, recordingOf(c).sid)).toBe('in-progress');
  expect(wideDecode(recordingOf(c).mixed)).toBe('1#2#');
  expect(callLog(c).some((l) => l.msg === 'a step of a sensitive stretch failed: the recordings it held paused resumed before the safe answer')).toBe(true);
  expect(callLog(c).some((l) => l.reason === 'expired')).toBe(false);
  expectNoKeyLogged(c);
  await c.hangup();
}, 60_000);

test("the card's request exactly as Twilio sent it (a proxy's log), sent again within the bound to the instance that got it, the store down, while the security code is asked: nothing resumed, the apology, the code never in the recording", async () => {
  // a proxy in front of the instance, keeping each request byte for byte
  const tap = await startWebhookTap(h.url);
  h.emulator.routeOrigin(h.publicUrl, tap.url);
  try {
    let replayed = { status: 0, body: '' };
    let afterReplay: string[] = [];
    const { c, cardAction } = await call({
      atCvv: async (_g, placed, captured) => {
        expect(statuses(placed())).toEqual(['in-progress', 'paused', 'in-progress', 'paused']);
        const card = tap.requests.find((r) => new URL(h.publicUrl + r.url).href === new URL(captured).href);
        expect(card?.body.toString()).toContain(`Digits=${CARD}`);
        await redis.stop();
        replayed = await tap.resend(card!, h.url);
        afterReplay = statuses(placed());
        return CVV;
      },
    });
    expect(prompts(c)).toEqual([MENU_PROMPT, CARD_PROMPT, NEXT_PROMPT, CVV_PROMPT]);
    // well within its query's age: only this instance's memory of the card's request tells the copy apart
    expect(new URL(cardAction).searchParams.get(STRETCH_QUERY_PARAM)).toMatch(/^2\.[0-9a-z]+\./);
    expect(replayed.status).toBe(200);
    expect(replayed.body).toContain('sorry');
    expect(replayed.body).toContain('<Dial');
    expect(afterReplay).toEqual(['in-progress', 'paused', 'in-progress', 'paused']);
    // the code's own webhook failed too (the store down): its first arrival resumed, after its guard, past the code
    expect(statuses(c).slice(0, 5)).toEqual(['in-progress', 'paused', 'in-progress', 'paused', 'in-progress']);
    expect(wideDecode(recordingOf(c).mixed)).toBe('1#2#');
    const refused = callLog(c).filter((l) => l.msg === 'a stretch query resumes nothing: its recordings left paused for the safe answer');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 40, reason: 'replayed' });
    expect(callLog(c).some((l) => l.msg === 'a step of a sensitive stretch failed: the recordings it held paused resumed before the safe answer')).toBe(true);
    expectNoKeyLogged(c);
    await c.hangup();
  } finally {
    h.emulator.routeOrigin(h.publicUrl, h.url);
    await tap.close();
  }
}, 60_000);

test("the card's query within the bound, signed (as only the auth token's holder could) with another live call's CallSid: resumed under that call's path, where Twilio finds no such recording; the first call's stays paused", async () => {
  // another call to the flow, held at its menu: live, its own recording running
  let release: (keys: string) => void = () => undefined;
  const held = new Promise<string>((r) => (release = r));
  const other = await h.emulator.placeCall({ from: '+15550006666', to: NUMBER, voiceUrl: h.voiceUrl, onGather: () => held });
  await waitFor(() => other.recordings.length === 1, "the other call's recording");
  let replayed = { status: 0, body: '' };
  let afterReplay: string[] = [];
  const { c } = await call({
    atCvv: async (_g, placed, captured) => {
      await redis.stop();
      const params = { CallSid: other.sid, AccountSid: ACCOUNT_SID, From: CALLER, To: NUMBER, CallStatus: 'in-progress', Digits: CARD, FinishedOnKey: '#' };
      replayed = await h.emulator.signedPost(captured, params);
      afterReplay = statuses(placed());
      return CVV;
    },
  });
  expect(replayed.body).toContain('<Dial');
  expect(afterReplay).toEqual(['in-progress', 'paused', 'in-progress', 'paused']);
  expect(h.emulator.recordingStatuses(other.sid, other.recordings[0].sid)).toEqual(['in-progress']);
  // the rescue did run, for the request's own call: the query's recording resumed under it
  const rescued = h.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.callSid === other.sid && l.recordings === 1);
  expect(rescued.map((l) => l.msg)).toEqual(['a step of a sensitive stretch failed: the recordings it held paused resumed before the safe answer']);
  // the first call's recording ran again only for its own apology, after the code's guard
  expect(wideDecode(recordingOf(c).mixed)).toBe('1#2#');
  release('1#');
  await other.hangup();
  await c.hangup();
}, 60_000);
