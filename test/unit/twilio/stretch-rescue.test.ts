/**
 * What a failed webhook of a sensitive stretch answers from its request alone
 * (twilio/stretch-rescue.ts): with the store down, the recordings its action says it holds paused
 * are resumed before the safe answer, at once after an entry that ended on '#' or a guard, and
 * never before a guard after one that did not. The recording controller is the real one, over
 * an in-memory REST client in Twilio's shape; its audit sink fails, as the store does.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { FlowRegistry, parseFlow } from '../../../src/flows/load';
import { GUARD_MAX_SECONDS } from '../../../src/flows/steps/collect';
import { RecordingController } from '../../../src/recording/controller';
import { encodeStretchQuery, STRETCH_QUERY_PARAM } from '../../../src/recording/stretch-query';
import type { Rescue } from '../../../src/twilio/dropin-rescue';
import type { TwilioClient } from '../../../src/twilio/rest';
import {
  afterFailedGuard,
  firstRescue,
  STRETCH_QUERY_CLOCK_SKEW_SECONDS,
  STRETCH_QUERY_MAX_AGE_SECONDS,
  stretchRescue,
} from '../../../src/twilio/stretch-rescue';

const PUBLIC = 'https://ivr.example.com';
const NUMBER = '+15005550043';
const CALL = 'CA' + '3'.repeat(32);
const sid = () => 'RE' + randomBytes(16).toString('hex');
const [OWN, OTHER] = [sid(), sid()];

const FLOW = parseFlow(
  'card.yaml',
  `id: card
numbers: ["${NUMBER}"]
steps:
  - collect: card
    kind: card-number
    prompt: Key in your card number.
handoff:
  mode: dial
  to: "client:alice"
`,
);

/** the rescue's clock; a query is written at WRITTEN unless a test says otherwise */
const WRITTEN = new Date('2026-12-07T10:20:30Z');
const secondsAfter = (s: number) => new Date(WRITTEN.getTime() + s * 1000);

function setup(now: Date = secondsAfter(20)) {
  const updates: { callSid: string; recordingSid: string; status: string }[] = [];
  const client = {
    calls: (callSid: string) => ({
      recordings: (recordingSid: string) => ({
        update: async (params: { status: string }) => {
          updates.push({ callSid, recordingSid, status: params.status });
          return { sid: recordingSid, status: params.status };
        },
      }),
    }),
  } as unknown as TwilioClient;
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const recording = new RecordingController({
    client,
    publicUrl: PUBLIC,
    restVerified: () => true,
    log,
    audit: {
      append: async () => {
        throw new Error('store down');
      },
    },
  });
  const deps = { flows: new FlowRegistry([FLOW]), recording, publicUrl: PUBLIC, now: () => now };
  return { updates, lines, log, deps };
}

/** a request's first arrival at this process, and a copy of one it received before (twilio/seen-requests.ts) */
const FIRST = { replayed: false };
const REPLAYED = { replayed: true };

const query = (q: string | undefined) => Object.fromEntries(new URLSearchParams(q));
const params = (extra: Record<string, string> = {}) => ({ CallSid: CALL, To: NUMBER, ...extra });

test("an entry that ended on '#': both recordings resumed at once, then the apology and the flow's dial, though no audit entry could be written", async () => {
  const { updates, lines, log, deps } = setup();
  const rescue = stretchRescue(deps, { route: 'gather', step: 0 });
  const body = await rescue(params({ Digits: '4111111111111111', FinishedOnKey: '#' }), query(encodeStretchQuery({ sids: [OWN, OTHER] }, WRITTEN)), log, FIRST);
  expect(updates).toEqual([
    { callSid: CALL, recordingSid: OWN, status: 'in-progress' },
    { callSid: CALL, recordingSid: OTHER, status: 'in-progress' },
  ]);
  expect(body).toContain(`<Dial action="${PUBLIC}/twilio/dial-status?fallback=1" method="POST"><Client>alice</Client></Dial>`);
  expect(body).toContain('sorry');
  expect(lines.find((l) => l.msg === 'a step of a sensitive stretch failed: the recordings it held paused resumed before the safe answer')).toMatchObject({
    recordings: 2,
    confirmed: false,
  });
  expect(JSON.stringify(lines)).not.toContain('4111111111111111');
});

test.each([
  ["the count or the caller's silence", { Digits: '0628', FinishedOnKey: '' }],
  ['no FinishedOnKey at all', { Digits: '' }],
])(
  "an entry that ended on %s: a guard at its longest first, its action a failed stretch's guard with the same query; nothing resumed yet",
  async (_what, extra) => {
    const { updates, log, deps } = setup();
    const q = encodeStretchQuery({ sids: [OWN, OTHER] }, WRITTEN)!;
    const body = await stretchRescue(deps, { route: 'gather', step: 2 })(params(extra), query(q), log, FIRST);
    expect(updates).toEqual([]);
    expect(body).toContain(`action="${PUBLIC}/twilio/guard/2/failed?${q}"`);
    expect(body).toContain(`timeout="${GUARD_MAX_SECONDS}"`);
    expect(body).toContain('finishOnKey=""');
    expect(body).not.toContain('<Dial');
  },
);

test("a guard's webhook: the caller fell silent, so the recording (the flow's own, as Twilio.CURRENT) is resumed at once", async () => {
  const { updates, log, deps } = setup();
  const body = await stretchRescue(deps, { route: 'guard' })(params(), query(encodeStretchQuery({ current: true }, WRITTEN)), log, FIRST);
  expect(updates).toEqual([{ callSid: CALL, recordingSid: 'Twilio.CURRENT', status: 'in-progress' }]);
  expect(body).toContain('<Dial action=');
});

test("that guard's own webhook, the store answering: the recordings resumed and the apology, never the flow; a query this service did not write, the apology alone", async () => {
  const { updates, log, deps } = setup();
  const body = await afterFailedGuard(deps, params(), query(encodeStretchQuery({ sids: [OWN, OTHER] }, WRITTEN)), log, FIRST);
  expect(updates.map((u) => u.recordingSid)).toEqual([OWN, OTHER]);
  expect(body).toContain(`<Dial action="${PUBLIC}/twilio/dial-status?fallback=1" method="POST"><Client>alice</Client></Dial>`);
  const odd = await afterFailedGuard(deps, params(), { [STRETCH_QUERY_PARAM]: '1.AAAA' }, log, FIRST);
  expect(odd).toBe(body);
  expect(updates).toHaveLength(2);
});

test('nothing carried, nothing this service wrote, or no CallSid: no answer of its own (the safe apology), nothing resumed', async () => {
  const { updates, log, deps } = setup();
  const rescue = stretchRescue(deps, { route: 'guard' });
  const q = query(encodeStretchQuery({ sids: [OWN] }, WRITTEN));
  expect(await rescue(params(), {}, log, FIRST)).toBeUndefined();
  expect(await rescue(params(), { [STRETCH_QUERY_PARAM]: '1.AAAA' }, log, FIRST)).toBeUndefined();
  expect(await rescue({ To: NUMBER }, q, log, FIRST)).toBeUndefined();
  expect(await rescue(params({ CallSid: 'CA-123' }), q, log, FIRST)).toBeUndefined();
  expect(updates).toEqual([]);
});

test.each([
  ['older than one ask can last', secondsAfter(STRETCH_QUERY_MAX_AGE_SECONDS + 1), 'expired'],
  ['dated ahead of this clock by more than the skew allowed', secondsAfter(-STRETCH_QUERY_CLOCK_SKEW_SECONDS - 1), 'ahead'],
])('a query %s (a captured request sent again): nothing resumed, the apology, a warning', async (_what, now, reason) => {
  const { updates, lines, log, deps } = setup(now);
  const q = query(encodeStretchQuery({ sids: [OWN, OTHER] }, WRITTEN));
  const finished = params({ Digits: '4111111111111111', FinishedOnKey: '#' });
  expect(await stretchRescue(deps, { route: 'gather', step: 0 })(finished, q, log, FIRST)).toBeUndefined();
  // an entry that did not end on '#': no guard either (its action would resume)
  expect(await stretchRescue(deps, { route: 'gather', step: 0 })(params({ Digits: '', FinishedOnKey: '' }), q, log, FIRST)).toBeUndefined();
  expect(await stretchRescue(deps, { route: 'guard' })(params(), q, log, FIRST)).toBeUndefined();
  const body = await afterFailedGuard(deps, params(), q, log, FIRST);
  expect(body).toContain('<Dial action=');
  expect(updates).toEqual([]);
  const warned = lines.filter((l) => l.msg === 'a stretch query resumes nothing: its recordings left paused for the safe answer');
  expect(warned).toHaveLength(4);
  expect(warned[0]).toMatchObject({ reason });
  expect(JSON.stringify(lines)).not.toContain('4111111111111111');
});

test('a request within the bound that arrived here before (a copy resent): nothing resumed, the apology, a warning; its first arrival resumed', async () => {
  const { updates, lines, log, deps } = setup();
  const q = query(encodeStretchQuery({ sids: [OWN, OTHER] }, WRITTEN));
  const finished = params({ Digits: '4111111111111111', FinishedOnKey: '#' });
  expect(await stretchRescue(deps, { route: 'gather', step: 0 })(finished, q, log, REPLAYED)).toBeUndefined();
  expect(await stretchRescue(deps, { route: 'gather', step: 0 })(params({ Digits: '06', FinishedOnKey: '' }), q, log, REPLAYED)).toBeUndefined();
  expect(await stretchRescue(deps, { route: 'guard' })(params(), q, log, REPLAYED)).toBeUndefined();
  expect(await afterFailedGuard(deps, params(), q, log, REPLAYED)).toContain('<Dial action=');
  expect(updates).toEqual([]);
  const warned = lines.filter((l) => l.msg === 'a stretch query resumes nothing: its recordings left paused for the safe answer');
  expect(warned.map((l) => l.reason)).toEqual(['replayed', 'replayed', 'replayed', 'replayed']);
  // the same request's first arrival: resumed
  await stretchRescue(deps, { route: 'gather', step: 0 })(finished, q, log, FIRST);
  expect(updates.map((u) => u.recordingSid)).toEqual([OWN, OTHER]);
  expect(JSON.stringify(lines)).not.toContain('4111111111111111');
});

test('a query at the bound, or ahead within the skew: resumed as ever', async () => {
  for (const now of [secondsAfter(STRETCH_QUERY_MAX_AGE_SECONDS), secondsAfter(-STRETCH_QUERY_CLOCK_SKEW_SECONDS)]) {
    const { updates, log, deps } = setup(now);
    await stretchRescue(deps, { route: 'guard' })(params(), query(encodeStretchQuery({ sids: [OWN] }, WRITTEN)), log, FIRST);
    expect(updates).toEqual([{ callSid: CALL, recordingSid: OWN, status: 'in-progress' }]);
  }
});

test("a failed gather's guard carries the gather's query as it was, its time kept: a rescue never makes a query younger", async () => {
  const { log, deps } = setup(secondsAfter(150));
  const q = encodeStretchQuery({ sids: [OWN] }, WRITTEN)!;
  const body = await stretchRescue(deps, { route: 'gather', step: 1 })(params({ Digits: '06', FinishedOnKey: '' }), query(q), log, FIRST);
  expect(body).toContain(`action="${PUBLIC}/twilio/guard/1/failed?${q}"`);
});

test('one written before the query held its time (version 1): nothing resumed, the apology, a warning', async () => {
  const { updates, lines, log, deps } = setup();
  const untimed = { [STRETCH_QUERY_PARAM]: `1.${Buffer.from(OWN.slice(2), 'hex').toString('base64url')}` };
  expect(await stretchRescue(deps, { route: 'gather', step: 0 })(params({ Digits: '1', FinishedOnKey: '#' }), untimed, log, FIRST)).toBeUndefined();
  expect(await afterFailedGuard(deps, params(), untimed, log, FIRST)).toContain('<Dial action=');
  expect(updates).toEqual([]);
  expect(lines.filter((l) => l.reason === 'untimed')).toHaveLength(2);
});

test('the first rescue that answers is the answer (a drop-in capture before a stretch); none: undefined', async () => {
  const { log } = setup();
  const none: Rescue = async () => undefined;
  const back: Rescue = async () => '<Response><Redirect/></Response>';
  const never: Rescue = async () => {
    throw new Error('not asked');
  };
  expect(await firstRescue(undefined, none, back, never)(params(), {}, log, FIRST)).toBe('<Response><Redirect/></Response>');
  expect(await firstRescue(undefined, none)(params(), {}, log, FIRST)).toBeUndefined();
});
