/**
 * A drop-in capture whose flow has two sensitive stretches (the card, then a non-sensitive order
 * number, then the security code): the app's recordings are resumed between them, and the app
 * may start another one meanwhile (a compliance recorder that starts one of its own when it sees
 * the call's recording paused, another thread of the app). The second stretch pauses every
 * recording in progress on the call as it starts, that one too, not only those the capture found
 * as it began: no recording holds a key of the security code.
 */
import type { EmulatedCall, GatherRequest } from '../../../tools/emulator';
import { createTwilioClient } from '../../../src/twilio/rest';
import { CARD_STEPS } from '../../support/card-flows';
import { wideDecode } from '../../support/decoders';
import { CARD, startDropinShop, verified, type DropinShop } from '../../support/dropin';
import { ACCOUNT_SID, AUTH_TOKEN } from '../../support/harness';

const CVV = '737';
/** the card, an order number that is not sensitive, then the security code: two sensitive stretches */
const FLOW = `id: card-capture
numbers: ["+15005550151"]
steps:
${CARD_STEPS.card}  - collect: order
    kind: digits
    sensitive: false
    minLength: 2
    maxLength: 8
    prompt: "Key in your order number, then press hash."
${CARD_STEPS.cvv}`;

let d: DropinShop;

beforeAll(async () => {
  d = await startDropinShop({ 'card-capture': FLOW });
}, 30_000);

afterAll(async () => {
  await d?.close();
});

/** a call whose app runs `atStart` recordings as it redirects and starts one more while the order number is asked */
async function startedBetweenStretches(atStart: number): Promise<void> {
  d.shop.reset();
  d.shop.recordings = atStart;
  const rest = createTwilioClient({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBaseUrl: d.h.emulator.baseUrl });
  let started: string | undefined;
  let c: EmulatedCall | undefined = undefined;
  c = await d.call(async (g: GatherRequest) => {
    const p = g.prompt.join(' ');
    if (p.includes('card number')) return `${CARD}#`;
    if (p.includes('order number')) {
      // the app's other thread starts a recording while the order number is asked, between the stretches
      started = (await rest.calls(c!.sid).recordings.create({ recordingChannels: 'mono' })).sid;
      return '42#';
    }
    if (p.includes('security code')) return CVV;
    return null;
  });
  await c.ended;
  expect(verified(d.shop.returned[0]).Result).toBe('success');
  expect(started).toBeDefined();
  const late = c.recordings.find((r) => r.sid === started)!;
  // paused as the security code was asked, and resumed after, like the app's first one
  const cvvGather = d.h.emulator
    .timelineFor(c.sid)
    .filter((e) => e.type === 'gather')
    .at(-1)!;
  expect(d.h.emulator.recordingStatusAt(c.sid, cvvGather.t, started)).toBe('paused');
  expect(d.h.emulator.recordingStatuses(c.sid, started!)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  // no recording holds a key of the security code (the first one none of the card either)
  for (const rec of c.recordings) expect(wideDecode(rec.mixed)).not.toContain(CVV);
  expect(wideDecode(late.mixed)).toBe('42#');
}

it("a recording the app starts between the capture's sensitive stretches is paused for the second one: it holds no key of it", async () => {
  await startedBetweenStretches(1);
});

it('the same when no recording ran as the capture began: the second stretch lists the call again and pauses the new one', async () => {
  await startedBetweenStretches(0);
});

it('a recording whose resume after the first stretch Twilio refused is taken into the second, and resumed after it: the app gets it back recording', async () => {
  d.shop.reset();
  d.shop.recordings = 1;
  d.h.emulator.faults.recordingResume = { status: 400, times: 1 };
  try {
    const c = await d.call((g: GatherRequest) => {
      const p = g.prompt.join(' ');
      if (p.includes('card number')) return `${CARD}#`;
      if (p.includes('order number')) return '42#';
      if (p.includes('security code')) return CVV;
      return null;
    });
    await c.ended;
    expect(verified(d.shop.returned[0]).Result).toBe('success');
    const sid = c.recordings[0].sid;
    // paused through the order number (its resume refused), paused for the security code, resumed as the capture returned
    expect(d.shop.atReturn).toEqual([{ sid, status: 'in-progress' }]);
    expect(wideDecode(c.recordings[0].mixed)).toBe('');
  } finally {
    d.h.emulator.faults.recordingResume = undefined;
  }
});
