/**
 * A drop-in capture's hang-up report across instances and restarts: several tonewall instances
 * on one Redis and one Twilio emulator, an app of its own taking the result at its return URL.
 * The hang-up watch and the result POST live in the store: an instance that stops (a rolling
 * deploy) leaves them to the others, and instances running together poll Twilio and POST once.
 */
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import fs from 'node:fs';
import twilio from 'twilio';
import { RESULT_SIGNATURE_HEADER, verifyCaptureResult } from '../../src/dropin/result-signature';
import { startTwilioEmulator, type EmulatedCall, type GatherRequest, type TwilioEmulator } from '../../tools/emulator';
import { writeFlows } from '../support/card-flows';
import { CALLER, CARD, cardCaptureFlow, dropinEnv, RESULT_SECRET, SHOP_NUMBER } from '../support/dropin';
import { ACCOUNT_SID, AUTH_TOKEN, freePort, sleep, startHarness, waitFor, type Harness } from '../support/harness';
import { uniquePrefix } from '../support/redis';
import { holdsValue } from '../support/values';

/** how often a watched call's status is read (HANGUP_POLL_MS is 5 s) */
const POLL_MS = 100;
/** the result POST's retries: the first after about 600 ms, time enough to stop the instance that tried first */
const BACKOFF = { baseMs: 600, maxMs: 1_200, maxAttempts: 5 };

/** one POST the app's return URL received, and how it answered */
interface Posted {
  body: Record<string, string>;
  signature: unknown;
  answered: number;
}

/** The app: hands its caller to tonewall (whichever instance `tonewall` names) and takes the result back. */
class ShopApp {
  readonly app: FastifyInstance = Fastify({ logger: false });
  url = '';
  returnUrl = '';
  tonewall = '';
  /** answer the return URL's POSTs with 500 while set */
  failing = false;
  posted: Posted[] = [];

  constructor(private readonly port: number) {}

  async start(): Promise<void> {
    this.url = `http://127.0.0.1:${this.port}`;
    this.returnUrl = `${this.url}/paid?order=42`;
    await this.app.register(formbody);
    this.app.post('/voice', async (_req, reply) => {
      const r = new twilio.twiml.VoiceResponse();
      r.redirect({ method: 'POST' }, `${this.tonewall}/twilio/capture/card-capture?return=${encodeURIComponent(this.returnUrl)}`);
      return reply.type('text/xml').send(r.toString());
    });
    this.app.post('/paid', async (req, reply) => {
      const answered = this.failing ? 500 : 200;
      this.posted.push({ body: { ...(req.body as Record<string, string>) }, signature: req.headers[RESULT_SIGNATURE_HEADER.toLowerCase()], answered });
      return reply.code(answered).send();
    });
    await this.app.listen({ port: this.port, host: '127.0.0.1' });
  }

  delivered(): Posted[] {
    return this.posted.filter((p) => p.answered === 200);
  }
}

let emulator: TwilioEmulator;
let shop: ShopApp;
let flowsDir: string;
let running: Harness[] = [];
let keyPrefix: string;

beforeAll(async () => {
  flowsDir = writeFlows({ 'card-capture': cardCaptureFlow(['card', 'expiry']) });
  emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  shop = new ShopApp(await freePort());
  await shop.start();
});

afterAll(async () => {
  await shop?.app.close();
  await emulator?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

beforeEach(() => {
  // each test's instances share a Redis prefix of their own
  keyPrefix = uniquePrefix('dropin-instances');
  shop.posted = [];
  shop.failing = false;
});

afterEach(async () => {
  for (const h of running) await h.close();
  running = [];
});

/** a tonewall instance on the test's Redis prefix and the shared emulator */
async function instance(): Promise<Harness> {
  const h = await startHarness({
    flowsDir,
    emulator,
    keyPrefix,
    env: dropinEnv(shop.url),
    build: { dropinPollMs: POLL_MS, dropinBackoff: BACKOFF },
  });
  running.push(h);
  return h;
}

/** the instance stops, as in a rolling deploy: its timers end, the store keeps its work */
async function stop(h: Harness): Promise<void> {
  running = running.filter((r) => r !== h);
  await h.close();
}

/**
 * A call to the app, handed to tonewall; the caller keys `card` at the card prompt (if given),
 * then waits at the next prompt until the test hangs up. Resolves once the caller waits.
 */
async function callWaitingAtPrompt(card?: string): Promise<EmulatedCall> {
  let waiting!: () => void;
  const atPrompt = new Promise<void>((resolve) => (waiting = resolve));
  const onGather = (g: GatherRequest): string | Promise<string | null> => {
    if (card && g.prompt.join(' ').includes('card number')) return `${card}#`;
    waiting();
    // the caller says nothing more; the hangup ends the wait
    return new Promise<null>(() => undefined);
  };
  const c = await emulator.placeCall({ from: CALLER, to: SHOP_NUMBER, voiceUrl: `${shop.url}/voice`, onGather });
  await atPrompt;
  return c;
}

/** which tonewall instances Twilio's requests for the call reached */
function webhookOrigins(c: EmulatedCall, instances: Harness[]): string[] {
  return emulator
    .timelineFor(c.sid)
    .flatMap((e) => (e.type === 'webhook' ? instances.filter((h) => e.url.startsWith(h.publicUrl)).map((h) => h.publicUrl) : []));
}

/** GETs of the call's resource (its status, read by the hang-up watch) */
function statusReads(c: EmulatedCall): number {
  return emulator.timelineFor(c.sid).filter((e) => e.type === 'rest' && e.method === 'GET' && e.path.endsWith(`/Calls/${c.sid}.json`)).length;
}

function logged(h: Harness, callSid: string, msg: string): Record<string, unknown>[] {
  return h.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.callSid === callSid && l.msg === msg);
}

function expectSignedHangup(p: Posted, callSid: string): void {
  expect(typeof p.signature).toBe('string');
  expect(verifyCaptureResult(new URLSearchParams(p.body), p.signature as string, RESULT_SECRET)).toBe(true);
  expect(p.body).toMatchObject({ order: '42', CallSid: callSid, Result: 'caller-hung-up' });
}

it('the instance that served the capture stops; the caller hangs up; the other instance reports caller-hung-up, once', async () => {
  const a = await instance();
  const b = await instance();
  shop.tonewall = a.publicUrl;
  const c = await callWaitingAtPrompt();
  // the capture's webhook reached A alone: B has never seen the call
  expect(webhookOrigins(c, [a, b])).toEqual([a.publicUrl]);
  await stop(a);

  await c.hangup();
  const back = await waitFor(() => shop.posted[0], 'the hang-up result at the return URL');
  expectSignedHangup(back, c.sid);
  // B logs the delivery once the app's answer is in, which may be after the app saw the POST
  await waitFor(() => logged(b, c.sid, 'drop-in result delivered to the app').length > 0, 'B to log the delivery');
  // a few more periods: no second report
  await sleep(5 * POLL_MS);
  expect(shop.posted).toHaveLength(1);
  expect(logged(b, c.sid, 'drop-in result delivered to the app')).toHaveLength(1);
  expect((await b.app.services.audit.list(c.sid)).map((e) => (e as { type?: string }).type)).toContain('dropin.returned');
  // the watch is gone, and the delivery's record says only that it was made
  const left = await b.scan();
  expect(left.some((k) => k.key === b.app.services.keys.dropinWatch(c.sid))).toBe(false);
  expect(JSON.parse(left.find((k) => k.key === b.app.services.keys.dropinResult(c.sid))!.content)).toMatchObject({ status: 'delivered', attempts: 1 });
  expect(left.filter((k) => k.ttl < 0)).toEqual([]);
});

it('the only instance restarts while the caller hangs up: the restarted instance takes up the watch and reports it', async () => {
  const a = await instance();
  shop.tonewall = a.publicUrl;
  const c = await callWaitingAtPrompt();
  await stop(a);
  await c.hangup();
  await sleep(3 * POLL_MS);
  expect(shop.posted).toHaveLength(0);

  const restarted = await instance();
  expectSignedHangup(await waitFor(() => shop.posted[0], 'the hang-up result after the restart'), c.sid);
  await sleep(5 * POLL_MS);
  expect(shop.posted).toHaveLength(1);
  expect(logged(restarted, c.sid, 'drop-in result delivered to the app')).toHaveLength(1);
});

it('the result POST fails; the instance that tried it stops; the other delivers it on its retry, once', async () => {
  const a = await instance();
  const b = await instance();
  shop.tonewall = a.publicUrl;
  shop.failing = true;
  const c = await callWaitingAtPrompt(CARD);
  await c.hangup();

  const tried = await waitFor(() => [a, b].find((h) => logged(h, c.sid, 'drop-in result delivery failed: will retry').length > 0), 'a failed first try');
  const other = tried === a ? b : a;
  // pending in the store: the result's masked views and token, never the card or the caller's number
  const pending = await tried.scan();
  const record = JSON.parse(pending.find((k) => k.key === tried.app.services.keys.dropinResult(c.sid))!.content) as Record<string, unknown>;
  expect(record).toMatchObject({ status: 'pending', attempts: 1, params: { Result: 'caller-hung-up', card_masked: '************1111', card_last4: '1111' } });
  const everything = pending.map((k) => `${k.key} ${k.content}`).join('\n');
  for (const value of [CARD, CALLER, CALLER.slice(1)]) expect(holdsValue(everything, value)).toBe(false);

  await stop(tried);
  shop.failing = false;
  const delivered = await waitFor(() => shop.delivered()[0], 'the result delivered on a retry');
  expectSignedHangup(delivered, c.sid);
  expect(delivered.body).toMatchObject({ card_masked: '************1111', card_valid: 'true' });
  await sleep(5 * POLL_MS);
  expect(shop.delivered()).toHaveLength(1);
  expect(shop.posted.length).toBeGreaterThanOrEqual(2);
  // by the instance still running, counting on from the tries already used
  const [done] = logged(other, c.sid, 'drop-in result delivered to the app');
  expect(done.attempt).toBeGreaterThanOrEqual(2);
  const after = JSON.parse((await other.app.services.store.get(other.app.services.keys.dropinResult(c.sid)))!) as Record<string, unknown>;
  expect(after).toMatchObject({ status: 'delivered' });
  expect(after.params).toBeUndefined();
  expect(after.url).toBeUndefined();
  for (const h of [a, b]) for (const value of [CARD, CALLER, CALLER.slice(1)]) expect(holdsValue(h.logs.text, value)).toBe(false);
});

it('two instances running: the call status is read once per period, not once per instance, and the result POSTed once', async () => {
  const a = await instance();
  const b = await instance();
  shop.tonewall = a.publicUrl;
  const c = await callWaitingAtPrompt();
  // both instances have scanned the watch by now (each scans every period)
  await sleep(3 * POLL_MS);

  const before = statusReads(c);
  const started = Date.now();
  await sleep(15 * POLL_MS);
  const reads = statusReads(c) - before;
  const periods = (Date.now() - started) / POLL_MS;
  // one read per period at most (plus one claimed before the window whose answer lands in it);
  // an instance each would read about twice as often
  expect(reads).toBeLessThanOrEqual(Math.floor(periods) + 2);
  // and it is read at all (each read waits on Twilio's answer: a loaded machine stretches the period)
  expect(reads).toBeGreaterThanOrEqual(3);

  await c.hangup();
  expectSignedHangup(await waitFor(() => shop.posted[0], 'the hang-up result'), c.sid);
  await sleep(5 * POLL_MS);
  expect(shop.posted).toHaveLength(1);
  expect(logged(a, c.sid, 'drop-in result delivered to the app').length + logged(b, c.sid, 'drop-in result delivered to the app').length).toBe(1);
});
