/**
 * A drop-in capture's gathers on the one-write path (twilio/webhook-write.ts): a gather that
 * goes on with the capture is its replay claim (reading the call, its trail, its hang-up watch
 * and, for the second entry of a matching pair, the first) and one write with its answer; the
 * gather that ends it makes what the step kept in one write, then returns the call as before
 * (the app's recordings resumed first). Counted as Redis sees them (MONITOR), on the project's
 * Twilio emulator with the shop of test/support/shop-app.ts and a real recording of the app's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EmulatedCall, GatherRequest } from '../../tools/emulator';
import { Errors } from '../../src/errors';
import { freePort, startHarness, type Harness } from '../support/harness';
import { named, postCounted } from '../support/round-trips';
import { CAPTURE_SECRET, SHOP_CALLER, SHOP_NUMBER, ShopApp, shopGatherParams } from '../support/shop-app';
import { holdsValue } from '../support/values';

const CARD = '4111111111111111';
const ACCOUNT = '20481632';
const CVV = '737';
/** a card, then an account number keyed twice, then a security code */
const FLOW = `
id: write-capture
numbers: ["+15005550154"]
steps:
  - collect: card
    kind: card-number
    prompt: "Key in your card number, then press hash."
  - collect: account
    kind: digits
    minLength: 4
    maxLength: 8
    requireMatchingInputs: true
    prompt: "Key in your account number, then press hash."
  - collect: cvv
    kind: security-code
    prompt: "Key in the security code."
`;

let h: Harness;
let shop: ShopApp;
let flowsDir: string;

beforeAll(async () => {
  flowsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-dropin-write-'));
  fs.writeFileSync(path.join(flowsDir, 'write-capture.yaml'), FLOW);
  const shopPort = await freePort();
  h = await startHarness({
    flowsDir,
    env: { CAPTURE_RETURN_URLS: `http://127.0.0.1:${shopPort}/paid`, CAPTURE_RESULT_SECRET: CAPTURE_SECRET },
    build: { dropinPollMs: 60_000 },
  });
  shop = new ShopApp(h.publicUrl, h.emulator.baseUrl, shopPort, CARD);
  await shop.start();
  shop.recordings = 1;
  shop.captureFlow = 'write-capture';
});

afterAll(async () => {
  await h?.close();
  await shop?.app.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

beforeEach(() => {
  shop.returned = [];
});

/** what a prompt is answered with, by the words in it */
function keysFor(g: GatherRequest): string {
  const p = g.prompt.join(' ');
  if (p.includes('card number')) return `${CARD}#`;
  if (p.includes('account number') || p.includes('again')) return `${ACCOUNT}#`;
  return CVV;
}

interface Answered {
  action: string;
  /** the round trips of the gather, then of its replay */
  sent: string[][];
  replayed: string[][];
  body: string;
  again: string;
}

/** the gather posted as Twilio would, then again (a replay), each counted */
async function answer(c: EmulatedCall, g: GatherRequest, keys: string): Promise<Answered> {
  const first = await postCounted(h, c.sid, g.action, shopGatherParams(c.sid, keys));
  const again = await postCounted(h, c.sid, g.action, shopGatherParams(c.sid, keys));
  return { action: g.action, sent: first.sent, replayed: again.sent, body: first.body, again: again.body };
}

/** a call to the shop, which sends it to the capture; `onGather` answers each of tonewall's prompts */
function call(onGather: (c: EmulatedCall, g: GatherRequest) => Promise<string>): Promise<EmulatedCall> {
  let c: EmulatedCall | undefined = undefined;
  const placed = h.emulator.placeCall({ from: SHOP_CALLER, to: SHOP_NUMBER, voiceUrl: `${shop.url}/voice`, onGather: (g) => onGather(c!, g) });
  return placed.then((placedCall) => (c = placedCall));
}

/**
 * Each gather posted here first, counted, then again (a replay, counted); the caller then keys
 * the same, and the emulator's own post is a second replay
 */
async function capture(): Promise<{ c: EmulatedCall; answered: Answered[] }> {
  const answered: Answered[] = [];
  const c = await call(async (c, g) => {
    const keys = keysFor(g);
    answered.push(await answer(c, g, keys));
    return keys;
  });
  await c.ended;
  return { c, answered };
}

const trailTypes = async (callSid: string) => {
  const trail = await h.app.services.audit.verify(callSid);
  expect(trail.verified).toBe(true);
  return trail.entries.map((e) => e.type);
};

test("a capture's gathers that go on are two round trips each, the one that ends it makes the step's writes in one; every replay is one and answers the same", async () => {
  const { c, answered } = await capture();
  expect(answered.map((a) => new URL(a.action).pathname)).toEqual([
    '/twilio/gather/0/1',
    '/twilio/gather/1/1',
    '/twilio/gather/1/1/confirm',
    '/twilio/gather/2/1',
  ]);
  // before: the claim, the envelope, the entry, the watch (created? then its index), the save and
  // the remembered answer each a round trip of its own (seven, six for a first entry, which has no
  // entry, and seven for the confirm, which read its first entry apart)
  for (const a of answered.slice(0, 3)) expect(named(a.sent)).toEqual(['script', 'script']);
  // the end: the claim, the resume's entry, the envelope and the entry in one write, the save, the
  // return's entry, the answer (before: the envelope and the entry apart, seven); and the watch's
  // removal, which nothing awaits (it may land after the answer), left out
  const unwatch = (cmd: string[]) => cmd.includes(h.app.services.keys.dropinWatch(c.sid)) && !cmd.includes(h.app.services.replay.recordKey(c.sid));
  expect(answered[3].sent.filter((cmd) => !unwatch(cmd))).toHaveLength(6);
  for (const a of answered) {
    expect(a.again).toBe(a.body);
    expect(a.replayed).toHaveLength(1);
  }
  expect(answered[3].body).toContain(`${shop.url}/paid`);

  // the app got its result once, the recording ran again before it, and the trail holds in order
  expect(shop.returned).toHaveLength(1);
  expect(shop.returned[0].query).toMatchObject({ Result: 'success', card_valid: 'true', account_valid: 'true', cvv_valid: 'true' });
  const [rec] = c.recordings;
  expect(h.emulator.recordingStatuses(c.sid, rec.sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  expect(await trailTypes(c.sid)).toEqual([
    'dropin.recording',
    'call.started',
    'recording.paused',
    'field.collected',
    'field.collected',
    'recording.resumed',
    'field.collected',
    'dropin.returned',
  ]);
  const session = await h.app.services.calls.get(c.sid);
  expect(session).toMatchObject({ state: 'returned', dropin: { result: 'success' } });
  expect(await h.app.services.vault.get(c.sid, 'account', session!.fields.account.token!)).toBe(ACCOUNT);
  expect(holdsValue((await h.scan()).map((k) => k.content).join('\n'), CARD)).toBe(false);
});

test("a store failure at a gather's write returns the call to the app (its recording resumed), writes nothing of the step; the retry gets that answer, running nothing", async () => {
  const write = jest.spyOn(h.app.services.store, 'compareAndSetAll');
  let failed: Answered | undefined;
  let tried = 0;
  let c: EmulatedCall;
  try {
    c = await call(async (c, g) => {
      const keys = keysFor(g);
      write.mockRejectedValueOnce(Errors.storeUnavailable());
      failed = await answer(c, g, keys);
      // the step's own write, the one holding the call's record (an audit entry's append is a write of its own: audit/trail.ts)
      // (its creation, with the trail's first entry, is one too: the only one over no record)
      tried = write.mock.calls.filter(([records]) => records.some((r) => r.key === h.app.services.keys.call(c.sid) && r.expected !== null)).length;
      return keys;
    });
    await c.ended;
  } finally {
    write.mockRestore();
  }
  // the write was tried (before: a drop-in capture's gather wrote each write as it came)
  expect(tried).toBe(1);
  expect(failed!.body).toContain(`${shop.url}/paid`);
  expect(failed!.again).toBe(failed!.body);
  expect(failed!.replayed).toHaveLength(1);
  expect(shop.returned).toHaveLength(1);
  expect(shop.returned[0].query).toMatchObject({ Result: 'internal-error' });
  expect(shop.returned[0].query.card_valid).toBeUndefined();
  const session = await h.app.services.calls.get(c.sid);
  expect(session).toMatchObject({ state: 'returned', dropin: { result: 'internal-error' } });
  expect(session?.fields.card).toBeUndefined();
  // no value sealed: the call's vault index names the caller's number only
  expect(await h.app.services.store.smembers(h.app.services.keys.vaultIndex(c.sid))).toEqual([session!.fromToken]);
  expect(await trailTypes(c.sid)).toEqual(['dropin.recording', 'call.started', 'recording.paused', 'recording.resumed', 'dropin.returned']);
});
