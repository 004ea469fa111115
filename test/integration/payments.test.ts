/**
 * Agent-assisted payments (Twilio's Payments subresource, on tonewall's captures): one session,
 * fields asked for one at a time in the agent's order, asked again when wrong, completed (then,
 * and only then, the processor gets the values) or cancelled (the values are erased). Driven over
 * real HTTP against the emulator, with a real processor endpoint and the real log stream.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { EmulatedCall, MediaLeg } from '../../tools/emulator';
import { startHarness, sleep, waitFor, type Harness } from '../support/harness';
import { holdsValue } from '../support/values';
import { AgentSocket, agentSide, api, keyed, makeFlowsDir, multimon, OFFER_NUMBER, placeCall, token } from '../support/agents';

const CARD = '4111111111111111';
const BAD_CARD = '4111111111111112';
const OTHER_CARD = '5555555555554444';

let h: Harness;
let flowsDir: string;
let dir: string;
let server: http.Server;
let alice: string;
const received: string[] = [];
const idempotencyKeys: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push(body);
      idempotencyKeys.push(String(req.headers['idempotency-key']));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ approved: true, reference: 'ch_pay' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/charge`;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-pay-'));
  const file = path.join(dir, 'processors.yaml');
  fs.writeFileSync(file, `processors:\n  - name: gateway\n    url: ${url}\n    secretEnv: GATEWAY_SECRET\n    fields: [card, expiry, cvv]\n`);
  flowsDir = makeFlowsDir();
  h = await startHarness({ flowsDir, env: { PROCESSORS_FILE: file, GATEWAY_SECRET: 'gateway-secret-0123456789abcdefghij' } });
  alice = token(h, 'alice');
});

afterAll(async () => {
  await h?.close();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(flowsDir, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Live {
  call: EmulatedCall;
  caller: MediaLeg;
  agentCall: EmulatedCall;
  agent: MediaLeg;
}

async function bridged(): Promise<Live> {
  const { call, caller } = await placeCall(h, OFFER_NUMBER, 'offered');
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(200);
  const { agentCall, agent } = await agentSide(h, call.sid);
  return { call, caller, agentCall, agent };
}

interface FieldView {
  name: string;
  status: string;
  masked?: string;
  last4?: string;
  brand?: string;
  reason?: string;
}
interface PaymentView {
  paymentId: string;
  status: string;
  capturing: string | null;
  required: string[];
  fields: FieldView[];
}

const paymentUrl = (live: Live, id: string) => `/v1/calls/${live.call.sid}/payments/${id}`;

async function view(live: Live, id: string): Promise<PaymentView> {
  const r = await api(h, 'GET', paymentUrl(live, id), alice);
  expect(r.status).toBe(200);
  return r.body as PaymentView;
}

/** asks for `field`, keys `keys` at the caller once the recording is paused, waits for the field to settle */
async function gather(live: Live, id: string, field: string, keys: string): Promise<FieldView> {
  const pausesBefore = h.emulator.timelineFor(live.agentCall.sid).filter((e) => e.type === 'recording' && e.status === 'paused').length;
  const asked = await api(h, 'POST', paymentUrl(live, id), alice, { capture: field });
  expect(asked.status).toBe(200);
  expect((asked.body as PaymentView).capturing).toBe(field);
  await waitFor(
    () => h.emulator.timelineFor(live.agentCall.sid).filter((e) => e.type === 'recording' && e.status === 'paused').length > pausesBefore,
    'recording paused',
  );
  await live.caller.sendAudio(keyed(keys));
  return waitFor(
    async () => {
      const f = (await view(live, id)).fields.find((x) => x.name === field)!;
      return f.status === 'valid' || f.status === 'invalid' ? f : null;
    },
    `${field} settled`,
    10_000,
  );
}

describe('an agent-assisted payment', () => {
  it('gathers card, expiry and security code one by one, asks again for a wrong card, and sends to the processor only on complete', async () => {
    const sock = await AgentSocket.open(h, alice);
    const live = await bridged();
    const created = await api(h, 'POST', `/v1/calls/${live.call.sid}/payments`, alice, {});
    expect(created.status).toBe(201);
    const p = created.body as PaymentView;
    expect(p.paymentId).toMatch(/^PK[0-9a-f]{32}$/);
    expect(p).toMatchObject({ status: 'open', capturing: null, required: ['card', 'expiry', 'cvv'] });
    expect(p.fields.map((f) => [f.name, f.status])).toEqual([
      ['card', 'pending'],
      ['expiry', 'pending'],
      ['cvv', 'pending'],
    ]);
    await sock.next((e) => e.type === 'payment.updated' && e.callSid === live.call.sid, 'payment.updated');
    // one session at a time
    expect((await api(h, 'POST', `/v1/calls/${live.call.sid}/payments`, alice, {})).status).toBe(409);

    // the agent's order: expiry first, then a card that fails Luhn, asked again
    expect(await gather(live, p.paymentId, 'expiry', '1230')).toMatchObject({ status: 'valid', masked: '****' });
    const bad = await gather(live, p.paymentId, 'card', BAD_CARD + '#');
    expect(bad).toMatchObject({ status: 'invalid', masked: '****************' });
    expect(bad.last4).toBeUndefined();
    const early = await api(h, 'POST', paymentUrl(live, p.paymentId), alice, { status: 'complete' });
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ error: 'TW_ERR_PAYMENT_INCOMPLETE' });
    expect(early.body.message).toContain('card');
    expect(await gather(live, p.paymentId, 'card', CARD + '#')).toMatchObject({ status: 'valid', masked: '************1111', last4: '1111', brand: 'visa' });
    expect(await gather(live, p.paymentId, 'cvv', '123')).toMatchObject({ status: 'valid', masked: '***' });

    // every field gathered, the session still open: nothing went to the processor yet
    await sleep(600);
    expect(received).toHaveLength(0);
    const done = await api(h, 'POST', paymentUrl(live, p.paymentId), alice, { status: 'complete' });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'completed', required: [], capturing: null });
    const result = await sock.next((e) => e.type === 'processor.result' && e.callSid === live.call.sid, 'processor.result', 15_000);
    expect(result).toMatchObject({ processor: 'gateway', ok: true });
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]).fields).toEqual({ card: CARD, expiry: '1230', cvv: '123' });

    // an ended session takes no more updates
    expect((await api(h, 'POST', paymentUrl(live, p.paymentId), alice, { capture: 'card' })).status).toBe(409);

    // "declined, try another card": a second session on the call is a new delivery, with keys of its own
    const second = (await api(h, 'POST', `/v1/calls/${live.call.sid}/payments`, alice, {})).body as PaymentView;
    expect(await gather(live, second.paymentId, 'card', OTHER_CARD + '#')).toMatchObject({ status: 'valid', brand: 'mastercard' });
    expect(await gather(live, second.paymentId, 'expiry', '1231')).toMatchObject({ status: 'valid' });
    expect(await gather(live, second.paymentId, 'cvv', '456')).toMatchObject({ status: 'valid' });
    await sleep(600);
    expect(received).toHaveLength(1);
    expect((await api(h, 'POST', paymentUrl(live, second.paymentId), alice, { status: 'complete' })).status).toBe(200);
    await sock.next((e) => e.type === 'processor.result' && e.callSid === live.call.sid && e !== result, 'the second processor.result', 15_000);
    expect(received).toHaveLength(2);
    expect(JSON.parse(received[1]).fields).toEqual({ card: OTHER_CARD, expiry: '1231', cvv: '456' });
    expect(idempotencyKeys[1]).not.toBe(idempotencyKeys[0]);
    // what the agent heard and every recording of the agent's call hold no key
    expect(multimon(live.agent.received)).toBe('');
    for (const channel of live.agentCall.recordings.flatMap((r) => r.channels())) expect(multimon(channel)).toBe('');
    // the expiry as a value of its own, not by chance inside a time or a SID's hex (holdsValue)
    for (const text of sock.raw) for (const v of [CARD, BAD_CARD, OTHER_CARD, '1230', '"123"']) expect([v, holdsValue(text, v)]).toEqual([v, false]);
    for (const v of [CARD, BAD_CARD, OTHER_CARD, '41111111', '55555555']) expect(h.logs.text).not.toContain(v);
    const audit = (await api(h, 'GET', `/v1/calls/${live.call.sid}/audit`, token(h, 'sue', 'supervisor'))).body as { entries: { type: string }[] };
    expect(audit.entries.map((e) => e.type)).toEqual(expect.arrayContaining(['payment.created', 'payment.completed']));
    sock.close();
    await live.call.hangup();
  });

  it('cancelling erases what the session gathered, from the call and the vault, and sends nothing', async () => {
    const before = received.length;
    const live = await bridged();
    const p = (await api(h, 'POST', `/v1/calls/${live.call.sid}/payments`, alice, { postalCode: true })).body as PaymentView;
    expect(p.fields.map((f) => f.name)).toEqual(['card', 'expiry', 'cvv', 'postal']);
    await gather(live, p.paymentId, 'card', CARD + '#');
    const token0 = (await h.app.services.calls.get(live.call.sid))!.fields.card.token!;
    expect(await h.app.services.vault.get(live.call.sid, 'card', token0)).toBe(CARD);
    // asked again, the caller keys a bad card: the field keeps the valid one (a failed value never
    // replaces a valid one), and the cancel must erase that one all the same
    expect(await gather(live, p.paymentId, 'card', BAD_CARD + '#')).toMatchObject({ status: 'invalid' });
    expect((await h.app.services.calls.get(live.call.sid))!.fields.card).toMatchObject({ valid: true, token: token0 });

    // a capture running when the session is cancelled ends too, and the recording resumes
    expect((await api(h, 'POST', paymentUrl(live, p.paymentId), alice, { capture: 'expiry' })).status).toBe(200);
    const cancelled = await api(h, 'POST', paymentUrl(live, p.paymentId), alice, { status: 'cancel' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', capturing: null });
    const call = (await api(h, 'GET', `/v1/calls/${live.call.sid}`, alice)).body as { fields: Record<string, unknown> };
    expect(call.fields.card).toBeUndefined();
    expect(await h.app.services.vault.get(live.call.sid, 'card', token0)).toBeNull();
    await waitFor(() => h.emulator.recordingStatusAt(live.agentCall.sid, h.emulator.now()) === 'in-progress', 'recording resumed');
    await sleep(600);
    expect(received.length).toBe(before);
    // a new session may follow a cancelled one
    expect((await api(h, 'POST', `/v1/calls/${live.call.sid}/payments`, alice, {})).status).toBe(201);
    await live.call.hangup();
  });

  it('answers clear errors: unknown session 404, unknown field 400, bad body 400, a call not bridged 409, another agent 404', async () => {
    const live = await bridged();
    expect((await api(h, 'GET', paymentUrl(live, 'PK0'), alice)).status).toBe(404);
    expect((await api(h, 'POST', `/v1/calls/${live.call.sid}/payments`, alice, { fields: [{ name: 'card', kind: 'palm-print' }] })).status).toBe(400);
    const p = (await api(h, 'POST', `/v1/calls/${live.call.sid}/payments`, alice, { fields: [{ name: 'account', kind: 'digits' }] })).body as PaymentView;
    expect((await api(h, 'POST', paymentUrl(live, p.paymentId), alice, { capture: 'card' })).status).toBe(400);
    expect((await api(h, 'POST', paymentUrl(live, p.paymentId), alice, { status: 'done' })).status).toBe(400);
    expect((await api(h, 'GET', paymentUrl(live, p.paymentId), token(h, 'bob'))).status).toBe(404);
    const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
    expect((await api(h, 'POST', `/v1/calls/${call.sid}/payments`, token(h, 'sue', 'supervisor'), {})).status).toBe(409);
    await call.hangup();
    await live.call.hangup();
  });
});
