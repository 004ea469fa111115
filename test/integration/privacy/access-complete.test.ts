/**
 * GDPR Art. 15: `GET /v1/subjects/:phone` answers everything held about the caller, masked
 * (CONTRACT §7), and `DELETE` then leaves nothing of it but the audit trails. One caller, driven
 * through what writes each kind of record the store keeps of a call:
 *
 * - a bridge call, offered and accepted by an agent (the offer, the handoff), recorded (the
 *   agent's call, the caller's stopped), with an agent-assisted payment: a card that fails, one
 *   that passes and one more that replaces it (capture records, vault values), expiry
 *   and security code, completed and delivered to a tokenizing twilio-generic-pay gateway (its
 *   card token on the record's processor results) and to a tonewall processor (delivery records),
 *   a media-stream token Twilio has not used, the audit trail;
 * - a drop-in capture of the shop's, the caller hanging up at the expiry (the drop-in on the
 *   record, its hang-up watch, its result POSTed to the shop);
 * - the erasure, which the tonewall processor refuses: its forward is kept, the caller's identity
 *   sealed in it, and the next access names it.
 *
 * Real app, real Redis, the project's Twilio emulator, the shop's own HTTP app, real gateways.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AccessReport, ErasureReceipt } from '../../../src/privacy';
import type { MediaLeg } from '../../../tools/emulator';
import { agentFlows, agentSide, api, keyed, OFFER_NUMBER, token } from '../../support/agents';
import { CALLER, cardCaptureFlow, hangUpAt, startDropinShop, type DropinShop } from '../../support/dropin';
import { startGateway, type Gateway } from '../../support/gateway';
import { CONNECTOR_ENV, genericPayProcessor, startGenericPayGateway, type GenericPayGateway } from '../../support/generic-pay-gateway';
import { waitFor } from '../../support/harness';
import { expectNoStreamErrors } from '../../support/streams';

const BAD_CARD = '4111111111111112';
const FIRST_CARD = '4111111111111111';
const CARD = '5555555555554444';
const EXPIRY = '1230';
const CVV = '737';
const LEDGER_SECRET = 'ledger-secret-0123456789abcdefghijkl';
const VAULTER_SECRET = 'vaulter-erasure-key-0123456789abcdef';
const FAST = { baseMs: 10, maxMs: 20, maxAttempts: 5 };

let d: DropinShop;
let ledger: Gateway;
let vaulter: GenericPayGateway;
let dir: string;

beforeAll(async () => {
  ledger = await startGateway();
  // the ledger takes deliveries and refuses every erasure: its forward is kept
  ledger.answer = (_n, req) => (req.path === '/erase' ? { status: 503 } : { status: 200, body: { approved: true, reference: 'led-ref' } });
  vaulter = await startGenericPayGateway({ username: CONNECTOR_ENV.CONNECTOR_USER, password: CONNECTOR_ENV.CONNECTOR_PASSWORD });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-access-complete-'));
  const file = path.join(dir, 'processors.yaml');
  fs.writeFileSync(
    file,
    'processors:\n' +
      genericPayProcessor('vaulter', vaulter, {
        fields: '[card, expiry, cvv]',
        method: 'tokenize',
        tokenType: 'reusable',
        eraseUrl: `${vaulter.url}/erase`,
        secretEnv: 'VAULTER_SECRET',
      }) +
      `  - name: ledger\n    url: ${ledger.url}/charge\n    secretEnv: LEDGER_SECRET\n    fields: [card]\n    eraseUrl: ${ledger.url}/erase\n`,
  );
  d = await startDropinShop(
    { 'card-capture': cardCaptureFlow(), ...agentFlows() },
    {
      env: { PROCESSORS_FILE: file, LEDGER_SECRET, VAULTER_SECRET, ...CONNECTOR_ENV },
      // the kept forward's retries come at no poll during the test: the access after the erasure finds it
      build: { erasureBackoff: FAST, erasureRetryBackoff: FAST, erasurePollMs: 3_600_000 },
    },
  );
}, 30_000);

afterAll(async () => {
  await d?.close();
  await ledger?.close();
  await vaulter?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

afterEach(() => d && expectNoStreamErrors(d.h.emulator));

/** every run of 4 or more digits in `text` once the identifiers and times the service mints, and `known` (the shop's origin), are taken out */
function digitRuns(text: string, known: string[]): string[] {
  const minted = known
    .reduce((t, k) => t.split(k).join(''), text)
    .replace(/\b(CA|RE|PK|AC)[0-9a-f]{32}\b/g, '')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/g, '')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '')
    .replace(/"(captureId|instanceId)":"[^"]*"/g, '');
  return minted.match(/\d{4,}/g) ?? [];
}

it('access lists every kind of record held of the caller, masked; erasure removes them all but the trails, and access then names the kept forward', async () => {
  const { h, shop } = d;
  const { keys, tokens } = h.app.services;
  const admin = token(h, 'dpo', 'admin');
  const alice = token(h, 'alice');
  const subjectUrl = `/v1/subjects/${encodeURIComponent(CALLER)}`;

  // ---- a bridge call, offered, accepted, a payment gathered and completed ----
  const call = await h.emulator.placeCall({ from: CALLER, to: OFFER_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  await call.legReady;
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'offered', 'offered', 10_000);
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(200);
  const { agentCall } = await agentSide(h, call.sid);
  const caller = call.leg as MediaLeg;
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.agentRecording?.sid, "the agent call's recording");
  const created = await api(h, 'POST', `/v1/calls/${call.sid}/payments`, alice, {});
  expect(created.status).toBe(201);
  const paymentId = (created.body as { paymentId: string }).paymentId;
  const gather = async (field: string, keysPressed: string, status: 'valid' | 'invalid') => {
    const paused = () => h.emulator.timelineFor(agentCall.sid).filter((e) => e.type === 'recording' && e.status === 'paused').length;
    const before = paused();
    expect((await api(h, 'POST', `/v1/calls/${call.sid}/payments/${paymentId}`, alice, { capture: field })).status).toBe(200);
    await waitFor(() => paused() > before, 'recording paused');
    await caller.sendAudio(keyed(keysPressed));
    await waitFor(
      async () => {
        const view = (await api(h, 'GET', `/v1/calls/${call.sid}/payments/${paymentId}`, alice)).body as { fields: { name: string; status: string }[] };
        const f = view.fields.find((x) => x.name === field)!;
        return f.status === 'valid' || f.status === 'invalid' ? f.status : null;
      },
      `${field} settled`,
      10_000,
    ).then((s) => expect(s).toBe(status));
  };
  await gather('card', BAD_CARD + '#', 'invalid');
  await gather('card', FIRST_CARD + '#', 'valid');
  // captured again: the first card's value is erased as the second replaces it (its capture record stays)
  await gather('card', CARD + '#', 'valid');
  await gather('expiry', EXPIRY, 'valid');
  await gather('cvv', CVV, 'valid');
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/payments/${paymentId}`, alice, { status: 'complete' })).status).toBe(200);
  await waitFor(async () => ((await h.app.services.calls.get(call.sid))?.processorResults?.length ?? 0) === 2, 'both processors answered', 15_000);
  const cardToken = [...vaulter.calls.map((c) => (c.answer as { token_id?: string }).token_id)][0];
  expect(cardToken).toMatch(/^tok_gw\d+$/);
  // a media-stream URL issued for the call that Twilio has not opened (as a dial issues one)
  const unused = await tokens.issue({ callSid: call.sid, leg: 'agent', instanceId: h.config.instanceId, bridgeCallSid: call.sid, agentSub: 'alice' });

  // ---- a drop-in capture of the shop's, the caller hanging up at the expiry ----
  const dropin = await hangUpAt(d, 'expiry');
  await waitFor(() => shop.returned.some((r) => !r.fromTwilio && r.body.Result === 'caller-hung-up'), 'the result POSTed to the shop', 15_000);

  // ---- the access report ----
  const accessed = await api(h, 'GET', subjectUrl, admin);
  expect(accessed.status).toBe(200);
  const report = accessed.body as AccessReport;
  expect(report.subject).toBe('+*******9876');
  expect(report.calls.map((c) => c.callSid)).toEqual([call.sid, dropin.sid]);
  const [bridged, shopCall] = report.calls;

  // the bridge call: the documented members, then each added one
  expect(bridged).toMatchObject({
    state: 'bridged',
    flowId: 'offer',
    fields: {
      card: { kind: 'card-number', masked: '************4444', last4: '4444', brand: 'mastercard', valid: true },
      expiry: { kind: 'expiry', masked: '****', valid: true },
      cvv: { kind: 'security-code', masked: '***', valid: true },
    },
    handoff: { mode: 'bridge', accepted: true },
    payment: {
      paymentId,
      status: 'completed',
      fields: [
        { name: 'card', kind: 'card-number' },
        { name: 'expiry', kind: 'expiry' },
        { name: 'cvv', kind: 'security-code' },
      ],
    },
    streamTokens: 1,
  });
  expect(bridged.deliveries).toEqual([
    { processor: 'ledger', status: 'delivered', attempts: 1, at: expect.any(String), paymentId },
    { processor: 'vaulter', status: 'delivered', attempts: 1, at: expect.any(String), paymentId },
  ]);
  // the processors' outcomes as agents saw them, the gateway's card token left out
  expect(bridged.processorResults).toEqual(
    expect.arrayContaining([
      {
        processor: 'vaulter',
        ok: true,
        status: 200,
        attempts: 1,
        at: expect.any(String),
        result: { approved: true, status: 'tokenized', last4: '4444', brand: 'mastercard' },
      },
      expect.objectContaining({ processor: 'ledger', ok: true, result: { approved: true, reference: 'led-ref' } }),
    ]),
  );
  // each capture: the failed card (its reason), both good ones, expiry and code, masked
  expect(bridged.captures?.map((c) => [c.name, c.status, c.masked, c.last4 ?? null, c.reason ?? null])).toEqual([
    ['card', 'failed', '****************', null, expect.stringMatching(/luhn/)],
    ['card', 'completed', '************1111', '1111', null],
    ['card', 'completed', '************4444', '4444', null],
    ['expiry', 'completed', '****', null, null],
    ['cvv', 'completed', '***', null, null],
  ]);
  // what the vault holds: that each value exists, what it is and until when, never the value or its token
  expect(bridged.sealed).toEqual([
    { of: 'caller', expiresAt: expect.any(String) },
    { of: 'field', field: 'card', kind: 'card-number', expiresAt: expect.any(String) },
    { of: 'field', field: 'cvv', kind: 'security-code', expiresAt: expect.any(String) },
    { of: 'field', field: 'expiry', kind: 'expiry', expiresAt: expect.any(String) },
  ]);
  for (const v of bridged.sealed!) expect(Date.parse(v.expiresAt!)).toBeGreaterThan(Date.now());
  // its recording, by Twilio's SID (the flow has no step: the caller's call is bridged before its own would start)
  expect(bridged.recordings).toEqual([{ of: 'agent', status: 'in-progress', sids: [expect.stringMatching(/^RE/)] }]);
  // the trail: what was done, never who did it
  const types = bridged.audit!.map((e) => e.type);
  expect(types).toEqual(expect.arrayContaining(['agent.accepted', 'payment.created', 'payment.completed', 'processor.delivered']));
  for (const e of bridged.audit!) for (const k of ['actor', 'kid', 'prev', 'hash']) expect(e).not.toHaveProperty(k);

  // the drop-in call: its result, the app it went back to (origin only), the POST's state
  expect(shopCall).toMatchObject({
    flowId: 'card-capture',
    fields: { card: { kind: 'card-number', masked: '************1111', last4: '1111', valid: true } },
    dropin: { returnTo: shop.url, result: 'caller-hung-up', resultDelivery: { status: 'delivered', attempts: 1 } },
    sealed: [
      { of: 'caller', expiresAt: expect.any(String) },
      { of: 'field', field: 'card', kind: 'card-number', expiresAt: expect.any(String) },
    ],
  });
  expect(shopCall.handoff).toBeUndefined();

  // nothing in plain: no card number or code, no caller number, no vault, media or card token, no agent
  const text = JSON.stringify(report);
  for (const secret of [BAD_CARD, FIRST_CARD, CARD, CALLER, CALLER.slice(1), `"${CVV}"`, cardToken!, unused.token, 'alice', 'order=42']) {
    expect(text).not.toContain(secret);
  }
  expect(text).not.toMatch(/vt_[A-Za-z0-9_-]{32}/);
  // of the caller's digits, only the last four of their number and of each card, as the contract shows them
  expect(new Set(digitRuns(text, [shop.url]))).toEqual(new Set(['9876', '1111', '4444']));

  // ---- the erasure: every kind goes, but the trails; the forward the ledger refused is kept ----
  const sids = [call.sid, dropin.sid];
  // what names the caller's data without naming the call: their subject hash, each vault token
  const subject = (await h.app.services.calls.get(call.sid))!.subject!;
  const vaultTokens = (await Promise.all(sids.map((sid) => h.redisStore!.smembers(keys.vaultIndex(sid))))).flat();
  expect(vaultTokens.length).toBeGreaterThanOrEqual(6);
  const erased = await api(h, 'DELETE', subjectUrl, admin);
  expect(erased.status).toBe(200);
  const receipt = erased.body as ErasureReceipt;
  expect(receipt).toMatchObject({ calls: 2 });
  expect(receipt.processors).toEqual(
    expect.arrayContaining([
      { name: 'ledger', status: 'retrying', httpStatus: 503 },
      { name: 'vaulter', status: 'forwarded', httpStatus: 204 },
    ]),
  );
  const left = (await h.scan()).filter(({ key, content }) => sids.some((sid) => `${key}\n${content}`.includes(sid)));
  expect(left.map(({ key }) => key).filter((key) => !sids.some((sid) => key === keys.audit(sid)) && !key.startsWith(keys.auditDay('')))).toEqual([]);
  for (const { key, content } of await h.scan()) {
    for (const named of [CALLER.slice(1), subject, ...vaultTokens]) expect(`${key}\n${content}`).not.toContain(named);
  }
  expect(await tokens.peek(unused.token)).toBeNull();

  // the access after it: no call, and the kept forward, which holds the caller's identity sealed
  const after = await api(h, 'GET', subjectUrl, admin);
  expect(after.body).toEqual({
    subject: '+*******9876',
    calls: [],
    erasureForwards: [{ receiptId: receipt.receiptId, processor: 'ledger', attempts: 0, createdAt: expect.any(String), nextAt: expect.any(String) }],
  });
  await call.hangup();
}, 90_000);
