/**
 * Issue 13: secure capture as a step of someone else's app. A small app of its own (another
 * host, its own webhooks, every Twilio request to it checked with the twilio package) answers
 * the call, says hello, redirects it to tonewall's capture route and gets it back with a signed
 * result; all of it on the project's Twilio emulator, with a real Redis, reading the real logs.
 */
import type { EmulatedCall, GatherRequest, TranscriptEntry } from '../../tools/emulator';
import { RESULT_SIGNATURE_HEADER, RESULT_SIGNATURE_PARAM, verifyCaptureResult } from '../../src/dropin/result-signature';
import { AgentSocket, token } from '../support/agents';
import { wideDecode } from '../support/decoders';
import {
  CALLER,
  CARD,
  cardCaptureFlow,
  hangUpAt,
  OTHER_CAPTURE_FLOW,
  RESULT_SECRET,
  says,
  SHOP_NUMBER,
  startDropinShop,
  verified,
  type DropinShop,
} from '../support/dropin';
import { ACCOUNT_SID, metricValue, sleep, waitFor, type Harness } from '../support/harness';
import type { ShopApp } from '../support/shop-app';
import { currentExpiry, holdsValue } from '../support/values';

const BAD_CARD = '4111111111111112';
const EXPIRY = currentExpiry(14);
const CVV = '737';

/** the capture flow in Spanish (es-MX, the voice of the Spanish sample flow) */
const SPANISH_FLOW = `
id: card-capture-es
numbers: ["+15005550153"]
language: es-MX
voice: Polly.Mia
steps:
  - collect: card
    kind: card-number
    prompt: "Marque el número de su tarjeta y pulse almohadilla."
`;

let d: DropinShop;
let h: Harness;
let shop: ShopApp;

beforeAll(async () => {
  // the shop's payment gateway takes the three fields; its answer (summarised) goes back with the result
  d = await startDropinShop(
    { 'card-capture': cardCaptureFlow(), 'other-capture': OTHER_CAPTURE_FLOW, 'card-capture-es': SPANISH_FLOW },
    { build: { dropinProcessorWaitMs: 2_000 } },
  );
  ({ h, shop } = d);
});

afterAll(async () => {
  await d?.close();
});

beforeEach(() => {
  shop.reset();
  h.emulator.faults.recordingPause = undefined;
  h.emulator.faults.recordingsList = undefined;
});

/** the app records the call (one recording over REST) and takes its time over the return: the call is live while keys pressed late land */
function recordedShopThatLingers(): void {
  shop.recordings = 1;
  shop.onReturn = async () => {
    await sleep(1_500);
  };
}

/** keys for each prompt, by the words in it */
function keypad(keys: { card?: string[]; expiry?: string; cvv?: string }): (g: GatherRequest) => string | null {
  const cards = [...(keys.card ?? [])];
  return (g) => {
    const p = g.prompt.join(' ');
    if (p.includes('card number')) return cards.shift() ?? null;
    if (p.includes('expiry')) return keys.expiry ?? null;
    if (p.includes('security code')) return keys.cvv ?? null;
    return null;
  };
}

function expectNoValueAnywhere(text: string, values: string[]): void {
  for (const v of values) expect(holdsValue(text, v)).toBe(false);
}

/** tonewall_calls_active as /metrics shows it */
async function activeCalls(): Promise<number> {
  const text = await (await fetch(h.metricsUrl)).text();
  return Number(/^tonewall_calls_active (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/** tonewall_calls_ended_total{status="completed"} as /metrics shows it (0 before the first) */
async function completedCalls(): Promise<number> {
  const text = await (await fetch(h.metricsUrl)).text();
  return Number(/^tonewall_calls_ended_total\{status="completed"\} (\S+)$/m.exec(text)?.[1] ?? 0);
}

async function auditTypes(callSid: string): Promise<string[]> {
  return (await h.app.services.audit.list(callSid)).map((e) => String((e as { type?: unknown }).type));
}

/** the capture's account of the app's recordings (the `dropin.recording` audit entry) */
async function foundRecordings(callSid: string): Promise<Record<string, unknown>> {
  const entries = (await h.app.services.audit.list(callSid)) as unknown as Record<string, unknown>[];
  return entries.find((e) => e.type === 'dropin.recording') ?? {};
}

/** one recording's states on the emulator's timeline, in order (its start, pauses, resumes, stop) */
function statesOf(c: EmulatedCall, recordingSid: string): string[] {
  return h.emulator.recordingStatuses(c.sid, recordingSid);
}

/** one recording's state at each Gather the call answered */
function atGathers(c: EmulatedCall, recordingSid: string): string[] {
  return h.emulator.timelineFor(c.sid).flatMap((e) => (e.type === 'gather' ? [h.emulator.recordingStatusAt(c.sid, e.t, recordingSid)] : []));
}

it('the route is a Twilio webhook: unsigned 400, wrongly signed 403, nothing runs', async () => {
  const url = `${h.publicUrl}/twilio/capture/card-capture?return=${encodeURIComponent(shop.returnUrl)}`;
  const params = { CallSid: 'CA' + 'f'.repeat(32), AccountSid: ACCOUNT_SID, From: CALLER, To: SHOP_NUMBER, CallStatus: 'in-progress' };
  expect((await h.emulator.signedPost(url, params, { signature: null })).status).toBe(400);
  expect((await h.emulator.signedPost(url, params, { signature: 'bm9wZQ==' })).status).toBe(403);
  // signed for the URL without its query: the query is part of what Twilio signs
  const bare = h.emulator.signature(`${h.publicUrl}/twilio/capture/card-capture`, params);
  expect((await h.emulator.signedPost(url, params, { signature: bare })).status).toBe(403);
  expect(await h.app.services.calls.get(params.CallSid)).toBeNull();
});

it('the app says hello, tonewall captures card, expiry and cvv, the app gets Result=success with masked fields and tokens, signed', async () => {
  const activeBefore = await activeCalls();
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: CVV }));
  await c.ended;
  // the call left tonewall when it returned to the app: it is no longer counted as active
  expect(await activeCalls()).toBe(activeBefore);
  expect(shop.refusedSignatures).toBe(0);
  expect(shop.returned).toHaveLength(1);
  const back = shop.returned[0];
  expect(back.fromTwilio).toBe(true);
  const r = verified(back);
  expect(r).toMatchObject({
    order: '42',
    CallSid: c.sid,
    Result: 'success',
    card_masked: '************1111',
    card_last4: '1111',
    card_brand: 'visa',
    card_valid: 'true',
    expiry_masked: '****',
    expiry_valid: 'true',
    cvv_masked: '***',
    cvv_valid: 'true',
    processor_gateway_status: 'approved',
    processor_gateway_code: 'A1B2',
    processor_gateway_reference: 'ch_42',
  });
  expect(r.processor_gateway_note).toBeUndefined();
  for (const f of ['card', 'expiry', 'cvv']) expect(r[`${f}_token`]).toMatch(/^\S{20,}$/);
  // the tokens name the values in the vault
  expect(await h.app.services.vault.get(c.sid, 'card', r.card_token)).toBe(CARD);
  // a result altered on the way does not verify
  const { [RESULT_SIGNATURE_PARAM]: sig, ...params } = back.query;
  expect(verifyCaptureResult({ ...params, Result: 'success', card_last4: '4242' }, sig, RESULT_SECRET)).toBe(false);
  expect(verifyCaptureResult(params, sig, 'another-secret-0123456789abcdefghij')).toBe(false);

  expect(says(c)).toEqual([
    'Hello from Example Shop.',
    'Key in your card number, then press hash.',
    'Key in the expiry date as four digits.',
    'Key in the security code.',
    'Thank you for your payment.',
  ]);
  // no recording ran: the capture found none (audited), paused nothing, and went on
  const types = await auditTypes(c.sid);
  expect(types).toEqual(expect.arrayContaining(['dropin.recording', 'dropin.returned']));
  expect(types).not.toContain('recording.paused');
  const found = (await h.app.services.audit.list(c.sid)).find((e) => (e as { type?: string }).type === 'dropin.recording') as { running?: string };
  expect(found.running).toBe('none');

  // no value and no full caller number in the return URL, the logs or Redis
  const everywhere = [JSON.stringify(back.query), h.logs.text, (await h.scan()).map((k) => k.key + ' ' + k.content).join('\n')];
  for (const text of everywhere) expectNoValueAnywhere(text, [CARD, EXPIRY, CVV, CALLER, CALLER.slice(1)]);
});

it('a recording the app started over REST before the redirect is paused for every key and resumed after: it holds no key', async () => {
  shop.recordings = 1;
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: CVV }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('success');
  expect(c.recordings).toHaveLength(1);
  expect(c.recordings[0].toJson(ACCOUNT_SID)).toMatchObject({ source: 'StartCallRecordingAPI' });
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['paused', 'paused', 'paused']);
  const types = await auditTypes(c.sid);
  expect(types).toEqual(expect.arrayContaining(['recording.paused', 'recording.resumed']));
  // no key (the control below shows the decoder hears keys the same recording takes unpaused)
  expect(wideDecode(c.recordingAudio)).toBe('');
});

it("a key pressed past the security code's end (its Gather ends on the third) reaches no recording: the resume waits for it", async () => {
  recordedShopThatLingers();
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: `${CVV}4` }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('success');
  expect(await auditTypes(c.sid)).toContain('recording.resumed');
  expect(wideDecode(c.recordingAudio)).toBe('');
});

it("a caller who stops mid-card on the last attempt and keys on: the failed card's guard takes the keys, the app's recording holds none", async () => {
  recordedShopThatLingers();
  const c = await d.call(keypad({ card: [`${BAD_CARD}#`, `${BAD_CARD}#`, '41111111,11111111'] }));
  await c.ended;
  expect(verified(shop.returned[0])).toMatchObject({ Result: 'too-many-failed-attempts', card_valid: 'false' });
  // the three attempts, then the guard (paused too); the capture ended only after it
  const gathers = c.transcript.filter((t): t is Extract<TranscriptEntry, { verb: 'Gather' }> => t.verb === 'Gather');
  expect(gathers.map((t) => t.action.includes('/twilio/guard/'))).toEqual([false, false, false, true]);
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['paused', 'paused', 'paused', 'paused']);
  expect(wideDecode(c.recordingAudio)).toBe('');
  expect(h.logs.text.includes('11111111')).toBe(false);
});

it("an expiry that fails on its count at the last attempt ends the capture no sooner than the keys keyed on past it: the app's recording holds none", async () => {
  recordedShopThatLingers();
  // a month that does not exist, with a four-digit year: the Gather ends on the fourth key, two follow
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: '139920' }));
  await c.ended;
  expect(verified(shop.returned[0])).toMatchObject({ Result: 'too-many-failed-attempts', expiry_valid: 'false' });
  expect(wideDecode(c.recordingAudio)).toBe('');
});

it('a recording the app paused itself before the redirect is left paused: the capture never resumes it', async () => {
  shop.recordings = 1;
  shop.pauseOwn = true;
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: CVV }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('success');
  const timeline = h.emulator
    .timelineFor(c.sid)
    .filter((e) => e.type === 'recording')
    .map((e) => (e as { status: string }).status);
  expect(timeline.filter((st) => st === 'in-progress')).toHaveLength(1); // its start only
  expect(await auditTypes(c.sid)).not.toContain('recording.resumed');
  expect(wideDecode(c.recordingAudio)).toBe('');
});

it('control: the same keys at a Gather of the app itself, recorded, are heard by the decoder', async () => {
  shop.recordings = 1;
  shop.ownGather = true;
  const c = await d.call(keypad({ card: [`${CARD}#`] }));
  await c.ended;
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress']);
  expect(wideDecode(c.recordingAudio)).toBe(`${CARD}#`);
});

it("the pause of the app's recording fails: recording-pause-failed, and no sensitive prompt is asked", async () => {
  shop.recordings = 1;
  h.emulator.faults.recordingPause = { status: 500 };
  const c = await d.call(keypad({}));
  await c.ended;
  // pause refused: fail closed, no sensitive prompt was asked, the app is told
  expect(verified(shop.returned[0]).Result).toBe('recording-pause-failed');
  expect(c.gathers).toHaveLength(0);
  expect(says(c)).toEqual(['Hello from Example Shop.', 'Thank you for your payment.']);
  expect(await auditTypes(c.sid)).toEqual(expect.arrayContaining(['recording.pause-failed', 'dropin.returned']));
});

it('two recordings the app started over REST are each paused by its SID for every key and each resumed after: neither holds a key', async () => {
  shop.recordings = 2;
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: CVV }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('success');
  expect(c.recordings).toHaveLength(2);
  const sids = c.recordings.map((r) => r.sid);
  for (const sid of sids) {
    expect(atGathers(c, sid)).toEqual(['paused', 'paused', 'paused']);
    expect(statesOf(c, sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  }
  // as the app finds them when the call comes back: both recording again
  expect(shop.atReturn).toHaveLength(2);
  expect(shop.atReturn).toEqual(expect.arrayContaining(sids.map((sid) => ({ sid, status: 'in-progress' }))));
  // neither recording holds a key of the card (the control test shows the decoder hears them)
  for (const rec of c.recordings) {
    expect(wideDecode(rec.mixed)).toBe('');
    for (const channel of rec.channels()) expect(wideDecode(channel)).toBe('');
  }
  // for the assessor: several found, both named (recording SIDs, not personal data)
  const found = await foundRecordings(c.sid);
  expect(found.running).toBe('several');
  expect(String(found.recordingSids).split(',').sort()).toEqual([...sids].sort());
  const entries = (await h.app.services.audit.list(c.sid)) as unknown as Record<string, unknown>[];
  expectNoValueAnywhere(JSON.stringify(entries) + h.logs.text, [CARD, EXPIRY, CVV, CALLER, CALLER.slice(1)]);
  for (const type of ['recording.paused', 'recording.resumed']) {
    expect(
      entries
        .filter((e) => e.type === type)
        .map((e) => e.recordingSid)
        .sort(),
    ).toEqual([...sids].sort());
  }
});

it('sixteen recordings: each paused and resumed, and the audit names them all in entries that fit the trail', async () => {
  shop.recordings = 16;
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: CVV }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('success');
  expect(c.recordings).toHaveLength(16);
  for (const rec of c.recordings) {
    expect(atGathers(c, rec.sid)).toEqual(['paused', 'paused', 'paused']);
    expect(wideDecode(rec.mixed)).toBe('');
  }
  const entries = ((await h.app.services.audit.list(c.sid)) as unknown as Record<string, unknown>[]).filter((e) => e.type === 'dropin.recording');
  expect(entries.map((e) => [e.running, e.recordings, e.part, e.parts])).toEqual([
    ['several', 16, 1, 2],
    ['several', 16, 2, 2],
  ]);
  const named = entries.flatMap((e) => String(e.recordingSids).split(','));
  expect(named.sort()).toEqual(c.recordings.map((r) => r.sid).sort());
  expect((await h.app.services.audit.verify(c.sid)).verified).toBe(true);
});

it('of two recordings, the one the app paused itself stays paused: only the other is paused and resumed by the capture', async () => {
  shop.recordings = 2;
  shop.pauseOwn = true; // the first
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: CVV }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('success');
  const [own, running] = c.recordings;
  expect(statesOf(c, own.sid)).toEqual(['in-progress', 'paused', 'stopped']);
  expect(statesOf(c, running.sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  expect(shop.atReturn).toEqual(
    expect.arrayContaining([
      { sid: own.sid, status: 'paused' },
      { sid: running.sid, status: 'in-progress' },
    ]),
  );
  expect(await foundRecordings(c.sid)).toMatchObject({ running: 'one', recordingSids: running.sid });
  for (const rec of c.recordings) expect(wideDecode(rec.mixed)).toBe('');
});

it('the second of two pauses fails: recording-pause-failed, no sensitive prompt, and the recording it paused is resumed', async () => {
  shop.recordings = 2;
  h.emulator.faults.recordingPause = { status: 500, after: 1 };
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: CVV }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('recording-pause-failed');
  expect(c.gathers).toHaveLength(0);
  expect(says(c)).toEqual(['Hello from Example Shop.', 'Thank you for your payment.']);
  // the one paused first is resumed, the one whose pause failed never left in-progress
  const paused = c.recordings.filter((r) => statesOf(c, r.sid).includes('paused'));
  expect(paused).toHaveLength(1);
  const other = c.recordings.find((r) => r !== paused[0])!;
  expect(statesOf(c, paused[0].sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  expect(statesOf(c, other.sid)).toEqual(['in-progress', 'stopped']);
  // the app's recordings are as it left them when the call comes back
  expect(shop.atReturn).toEqual(expect.arrayContaining(c.recordings.map((r) => ({ sid: r.sid, status: 'in-progress' }))));
  const types = await auditTypes(c.sid);
  expect(types.indexOf('recording.pause-failed')).toBeGreaterThan(types.indexOf('recording.paused'));
  expect(types.indexOf('recording.resumed')).toBeGreaterThan(types.indexOf('recording.pause-failed'));
  expect(types.indexOf('dropin.returned')).toBeGreaterThan(types.indexOf('recording.resumed'));
});

it("the call's recordings cannot be listed: the capture cannot know it paused them all, so it fails closed and pauses none", async () => {
  shop.recordings = 2;
  const failures = await metricValue(h, 'tonewall_recording_pause_failures_total');
  h.emulator.faults.recordingsList = { status: 503, times: 1 };
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: CVV }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('recording-pause-failed');
  // a failed pause for the operator too (TonewallRecordingPauseFailed): payments are failing
  expect(await metricValue(h, 'tonewall_recording_pause_failures_total')).toBe(failures + 1);
  expect(c.gathers).toHaveLength(0);
  expect(says(c)).toEqual(['Hello from Example Shop.', 'Thank you for your payment.']);
  for (const rec of c.recordings) expect(statesOf(c, rec.sid)).toEqual(['in-progress', 'stopped']);
  expect((await foundRecordings(c.sid)).running).toBe('unknown');
  expect(await auditTypes(c.sid)).toEqual(expect.arrayContaining(['recording.pause-failed', 'dropin.returned']));
});

it("a return URL changed in the call's record (a Redis writer) is not where the call goes: it returns to the app's own URL, from the gather's signed query, with internal-error", async () => {
  const c: EmulatedCall = await d.call(async (g: GatherRequest) => {
    const p = g.prompt.join(' ');
    if (p.includes('card number')) return `${CARD}#`;
    if (p.includes('expiry')) return EXPIRY;
    if (!p.includes('security code')) return null;
    // before the last field's answer, whose webhook returns the call
    await h.app.services.calls.update(c.sid, (s) => {
      s.dropin!.returnUrl = 'https://attacker.example.net/twiml';
    });
    return CVV;
  });
  await c.ended;
  expect(shop.returned.map((x) => [x.fromTwilio, verified(x).Result])).toEqual([[true, 'internal-error']]);
  expect(await auditTypes(c.sid)).toContain('dropin.refused');
  expect(h.logs.text).not.toContain('attacker.example.net');
});

it('the processor does not answer well in time: processor-error', async () => {
  shop.chargeStatus = 500;
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: CVV }));
  await c.ended;
  const r = verified(shop.returned[0]);
  expect(r).toMatchObject({ Result: 'processor-error', card_valid: 'true' });
  expect(Object.keys(r).some((k) => k.startsWith('processor_'))).toBe(false);
  expect(shop.charges).toBeGreaterThanOrEqual(1);
});

it("star ends the capture at any prompt: caller-interrupted, the next prompt is not asked, the app's recording resumes", async () => {
  shop.recordings = 1;
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: '1*' }));
  await c.ended;
  const r = verified(shop.returned[0]);
  expect(r.Result).toBe('caller-interrupted');
  expect(r.card_valid).toBe('true');
  expect(r.expiry_masked).toBeUndefined();
  expect(says(c)).not.toContain('Key in the security code.');
  // the expiry's Gather ended on its timeout: its guard ran (paused too) before the return
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['paused', 'paused', 'paused']);
  const types = await auditTypes(c.sid);
  expect(types.indexOf('recording.resumed')).toBeGreaterThan(types.indexOf('recording.paused'));
  expect(types.indexOf('dropin.returned')).toBeGreaterThan(types.indexOf('recording.resumed'));
  expect(wideDecode(c.recordingAudio)).toBe('');
});

it("star among keys that run past the expiry's count: the app's recording resumes only after the keys keyed on past it", async () => {
  recordedShopThatLingers();
  // the Gather ends on its fourth key ('1*25'); '20' follows it
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: '1*2520' }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('caller-interrupted');
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['paused', 'paused']);
  expect(wideDecode(c.recordingAudio)).toBe('');
});

it("star, then silence past the Gather's timeout, then keys: the expiry's guard takes them before the app's recording resumes", async () => {
  recordedShopThatLingers();
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: '1*,2520' }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('caller-interrupted');
  const gathers = c.transcript.filter((t): t is Extract<TranscriptEntry, { verb: 'Gather' }> => t.verb === 'Gather');
  expect(gathers.map((t) => t.action.includes('/twilio/guard/'))).toEqual([false, false, true]);
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['paused', 'paused', 'paused']);
  expect(wideDecode(c.recordingAudio)).toBe('');
});

it('three bad cards: too-many-failed-attempts, and expiry is never asked', async () => {
  const c = await d.call(keypad({ card: [`${BAD_CARD}#`, `${BAD_CARD}#`, `${BAD_CARD}#`] }));
  await c.ended;
  const r = verified(shop.returned[0]);
  expect(r).toMatchObject({ Result: 'too-many-failed-attempts', card_valid: 'false', card_reason: 'attempts-exhausted:luhn' });
  expect(r.card_token).toBeUndefined();
  expect(c.gathers).toHaveLength(3);
  expect(h.logs.text.includes(BAD_CARD)).toBe(false);
});

it('a return URL not on the allow-list is refused: an apology and a hangup, audited, nothing captured', async () => {
  shop.returnUrl = 'https://evil.example.net/paid';
  const c = await d.call(keypad({ card: [`${CARD}#`] }));
  await c.ended;
  expect(c.gathers).toHaveLength(0);
  expect(shop.returned).toHaveLength(0);
  expect(says(c)).toEqual(['Hello from Example Shop.', "We're sorry, we can't complete your request right now. Goodbye."]);
  expect(c.transcript.at(-1)).toMatchObject({ verb: 'Hangup' });
  expect(await auditTypes(c.sid)).toContain('dropin.refused');
  expect(await h.app.services.calls.get(c.sid)).toBeNull();
});

it('a refusal is said in the language and voice of the flow the app asked for', async () => {
  shop.captureFlow = 'card-capture-es';
  shop.returnUrl = 'https://evil.example.net/paid';
  const c = await d.call(keypad({ card: [`${CARD}#`] }));
  await c.ended;
  expect(c.gathers).toHaveLength(0);
  expect(c.transcript.filter((t) => t.verb === 'Say').at(-1)).toEqual({
    verb: 'Say',
    text: 'Lo sentimos, no podemos completar su solicitud en este momento. Adiós.',
    language: 'es-MX',
    voice: 'Polly.Mia',
  });
  expect(c.transcript.at(-1)).toMatchObject({ verb: 'Hangup' });
  expect(await auditTypes(c.sid)).toContain('dropin.refused');
});

it('a look-alike host and another path on the allowed origin are refused too', async () => {
  for (const bad of [`${shop.url}/paidx`, `${shop.url.replace('127.0.0.1', '127.0.0.1.nip.io')}/paid`, `${shop.url}/other`]) {
    shop.returnUrl = bad;
    const c = await d.call(keypad({ card: [`${CARD}#`] }));
    await c.ended;
    expect(c.gathers).toHaveLength(0);
  }
  expect(shop.returned).toHaveLength(0);
});

it('a call tonewall already holds is not captured again: apology, audited', async () => {
  const c = await d.call(keypad({ card: [`${CARD}#`], expiry: EXPIRY, cvv: CVV }));
  await c.ended;
  expect(verified(shop.returned[0]).Result).toBe('success');
  // the same call redirected here again, to another flow (a Twilio retry of the first is answered as the first)
  const url = `${h.publicUrl}/twilio/capture/other-capture?return=${encodeURIComponent(shop.returnUrl)}`;
  const res = await h.emulator.signedPost(url, { CallSid: c.sid, AccountSid: ACCOUNT_SID, From: CALLER, To: SHOP_NUMBER, CallStatus: 'in-progress' });
  expect(res.body).toContain('<Hangup/>');
  expect(res.body).not.toContain('<Gather');
  expect(await auditTypes(c.sid)).toContain('dropin.refused');
  // and to the same flow: a second capture, not a replay: refused, not answered with the first
  // capture's remembered answers (which would end with its old signed result)
  const again = await h.emulator.signedPost(`${h.publicUrl}/twilio/capture/card-capture?return=${encodeURIComponent(shop.returnUrl)}`, {
    CallSid: c.sid,
    AccountSid: ACCOUNT_SID,
    From: CALLER,
    To: SHOP_NUMBER,
    CallStatus: 'in-progress',
  });
  expect(again.body).toContain('<Hangup/>');
  expect(again.body).not.toContain('<Gather');
});

it("the watch ends a hung-up capture's call, then its status callback comes too: the call leaves the active calls once, is counted ended once, and its call.ended is sent once", async () => {
  const sue = await AgentSocket.open(h, token(h, 'sue', 'supervisor'));
  const activeBefore = await activeCalls();
  const endedBefore = await completedCalls();
  const c = await hangUpAt(d, 'expiry');
  await c.ended;
  // the watch's poll found the hang-up and ended the record (the app's status callback is its own)
  await waitFor(() => shop.returned[0], 'the server-to-server result', 10_000);
  expect(await h.app.services.calls.get(c.sid)).toMatchObject({ state: 'ended', dropin: { result: 'caller-hung-up' } });
  expect(await activeCalls()).toBe(activeBefore);
  // counted ended by the watch that found it so, with Twilio's status of the call
  expect(await completedCalls()).toBe(endedBefore + 1);
  // tonewall's own status route hears of the same call's end as well
  const status = await h.emulator.signedPost(h.statusUrl, { CallSid: c.sid, AccountSid: ACCOUNT_SID, CallStatus: 'completed' });
  expect(status.status).toBe(204);
  expect(await activeCalls()).toBe(activeBefore);
  expect(await completedCalls()).toBe(endedBefore + 1);
  expect(shop.returned).toHaveLength(1);
  // the watch ended the record, so it published the call's end; the status route that found it ended did not.
  // A later event on the bus (the end of a call no record names, a supervisor's to hear) has reached the socket,
  // so anything the status route published before it would have too
  await h.app.services.events.publish({ type: 'call.ended', callSid: 'CAlater0001', status: 'completed' });
  await sue.next((e) => e.callSid === 'CAlater0001', 'the later event');
  expect(sue.events.filter((e) => e.callSid === c.sid)).toEqual([{ type: 'call.ended', callSid: c.sid, status: 'completed' }]);
  sue.close();
});

it('an unknown flow id gets the apology', async () => {
  const url = `${h.publicUrl}/twilio/capture/no-such-flow?return=${encodeURIComponent(shop.returnUrl)}`;
  const params = { CallSid: 'CA' + 'e'.repeat(32), AccountSid: ACCOUNT_SID, From: CALLER, To: SHOP_NUMBER, CallStatus: 'in-progress' };
  const res = await h.emulator.signedPost(url, params);
  expect(res.status).toBe(200);
  expect(res.body).toContain('<Hangup/>');
  expect(res.body).not.toContain('<Gather');
});

it('the caller hangs up in a prompt: caller-hung-up is POSTed server to server, signed in X-Tonewall-Signature', async () => {
  const c = await hangUpAt(d, 'expiry');
  await c.ended;
  const back = await waitFor(() => shop.returned[0], 'the server-to-server result', 10_000);
  expect(back.fromTwilio).toBe(false);
  expect(back.query).toEqual({ order: '42' });
  const sig = back.headers[RESULT_SIGNATURE_HEADER.toLowerCase()];
  expect(typeof sig).toBe('string');
  expect(verifyCaptureResult(back.body, sig as string, RESULT_SECRET)).toBe(true);
  expect(back.body).toMatchObject({ CallSid: c.sid, Result: 'caller-hung-up', card_valid: 'true', card_last4: '1111' });
  expect(await auditTypes(c.sid)).toContain('dropin.returned');
  expectNoValueAnywhere(h.logs.text, [CARD, CALLER]);
});
