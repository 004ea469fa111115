/**
 * Issue 6 through the whole app: an IVR call's fields reach the processor that lists them,
 * once, signed, and its answer reaches agents as processor.result; a caller's erasure removes
 * every value and record of their calls, is forwarded signed to the processor, and leaves only
 * the PII-free audit trails.
 */
import { TokenAuth } from '../../src/auth/tokens';
import type { CallEvent } from '../../src/bus';
import { verifyProcessorRequest, verifySignature } from '../../src/processors';
import { PAYMENTS_NUMBER, startHarness, waitFor, type Harness } from '../support/harness';
import { currentExpiry, holdsValue } from '../support/values';
import { gatewayProcessorsFile, startGateway, type Gateway } from '../support/gateway';

const CALLER = '+15557773333';
const SECRET = 'gateway-secret-text-0123456789abcdef';
const CARDS = ['4111111111111111', '5555555555554444'];

describe('processors and privacy through the app', () => {
  let h: Harness;
  let gw: Gateway;
  let admin: string;
  let agent: string;
  const events: CallEvent[] = [];

  beforeAll(async () => {
    gw = await startGateway();
    // a careless gateway that echoes what it was sent: the agent must still see none of it
    gw.answer = (_n, req) =>
      req.path === '/charge'
        ? { status: 200, body: { approved: true, reference: 'ch_1', echo: { card: JSON.parse(req.body).fields.card, subject: JSON.parse(req.body).subject } } }
        : { status: 202, body: {} };
    const file = gatewayProcessorsFile(gw, ['card', 'expiry', 'cvv']);
    h = await startHarness({ env: { PROCESSORS_FILE: file, GATEWAY_SECRET: SECRET } });
    await h.app.services.events.subscribe((e) => events.push(e));
    const auth = new TokenAuth(h.config.agentJwtSecret);
    admin = auth.sign({ sub: 'dpo', endpoint: 'client:dpo', role: 'admin' });
    agent = auth.sign({ sub: 'alice', endpoint: 'client:alice', role: 'agent' });
  });
  afterAll(async () => {
    await h.close();
    await gw.close();
  });

  async function payByPhone(card: string, expiry: string, from = CALLER) {
    const answers = ['1#', '73920584#', `${card}#`, expiry, '123#'];
    const call = await h.emulator.placeCall({
      from,
      to: PAYMENTS_NUMBER,
      voiceUrl: h.voiceUrl,
      statusCallback: h.statusUrl,
      onGather: () => answers.shift() ?? null,
    });
    await waitFor(() => call.transcript.some((t) => t.verb === 'Connect/Stream'), 'handoff', 10000);
    return call;
  }

  test('fields reach the processor once, signed; the answer reaches agents; erasure removes everything', async () => {
    const expiries = [currentExpiry(3), currentExpiry(4)];
    const c1 = await payByPhone(CARDS[0], expiries[0]);
    await waitFor(() => gw.received.filter((r) => r.path === '/charge').length >= 1, 'delivery of call 1', 10000);
    const c2 = await payByPhone(CARDS[1], expiries[1]);
    await waitFor(() => gw.received.filter((r) => r.path === '/charge').length >= 2, 'delivery of call 2', 10000);

    const charges = gw.received.filter((r) => r.path === '/charge');
    expect(charges).toHaveLength(2);
    for (const [i, r] of charges.entries()) {
      expect(verifySignature(String(r.headers['x-tonewall-signature']), r.body, SECRET, 300)).toBe(true);
      const body = JSON.parse(r.body);
      expect(body.callSid).toBe([c1, c2][i].sid);
      expect(body.subject).toBe(CALLER);
      // exactly the listed fields: not the account number
      expect(body.fields).toEqual({ card: CARDS[i], expiry: expiries[i], cvv: '123' });
      expect(r.headers['idempotency-key']).toBeTruthy();
      // replayed to eraseUrl within the window, a delivery fails the receiver's purpose check
      expect(body).toMatchObject({ purpose: 'delivery', idempotencyKey: r.headers['idempotency-key'] });
      expect(verifyProcessorRequest(String(r.headers['x-tonewall-signature']), r.body, SECRET, 'erasure')).toBeNull();
    }
    // two payments from one caller: each charge carries a signed key of its own
    expect(new Set(charges.map((r) => JSON.parse(r.body).idempotencyKey)).size).toBe(2);
    await waitFor(() => events.filter((e) => e.type === 'processor.result').length >= 2, 'processor.result events');
    const result = events.find((e): e is Extract<CallEvent, { type: 'processor.result' }> => e.type === 'processor.result' && e.callSid === c1.sid)!;
    // the gateway echoes what it was sent: agents get the allow-listed summary only (issue 11 item 2)
    expect(result).toMatchObject({ processor: 'gateway', ok: true, result: { approved: true } });
    expect(result.result).toEqual({ approved: true, reference: 'ch_1' });
    // no value in any event
    const eventText = JSON.stringify(events);
    for (const v of [...CARDS, CALLER]) expect(eventText).not.toContain(v);
    // nothing sent twice, even after a while
    await new Promise((r) => setTimeout(r, 500));
    expect(gw.received.filter((r) => r.path === '/charge')).toHaveLength(2);

    const subjectUrl = `${h.url}/v1/subjects/${encodeURIComponent(CALLER)}`;
    expect((await fetch(subjectUrl, { headers: { authorization: `Bearer ${agent}` } })).status).toBe(403);
    expect((await fetch(subjectUrl, { method: 'DELETE', headers: { authorization: `Bearer ${agent}` } })).status).toBe(403);
    expect((await fetch(subjectUrl)).status).toBe(401);
    const access = (await (await fetch(subjectUrl, { headers: { authorization: `Bearer ${admin}` } })).json()) as any;
    expect(access.calls).toHaveLength(2);
    expect(JSON.stringify(access)).not.toContain(CARDS[0]);

    const erased = await fetch(subjectUrl, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
    expect(erased.status).toBe(200);
    const receipt = (await erased.json()) as any;
    expect(receipt.calls).toBe(2);
    expect(receipt.values).toBeGreaterThanOrEqual(8);
    expect(receipt.processors).toEqual([expect.objectContaining({ name: 'gateway', status: 'forwarded' })]);
    const erase = gw.received.find((r) => r.path === '/erase')!;
    expect(verifySignature(String(erase.headers['x-tonewall-signature']), erase.body, SECRET, 300)).toBe(true);
    expect(JSON.parse(erase.body).subject).toBe(CALLER);
    expect(verifyProcessorRequest(String(erase.headers['x-tonewall-signature']), erase.body, SECRET, 'erasure')).toMatchObject({
      purpose: 'erasure',
      subject: CALLER,
    });
    expect(verifyProcessorRequest(String(erase.headers['x-tonewall-signature']), erase.body, SECRET, 'delivery')).toBeNull();

    const after = (await (await fetch(subjectUrl, { headers: { authorization: `Bearer ${admin}` } })).json()) as any;
    expect(after.calls).toEqual([]);
    expect((await fetch(`${h.url}/v1/calls/${c1.sid}`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(404);

    const keys = await h.scan();
    const text = keys.map((k) => `${k.key} ${k.content}`).join('\n');
    for (const v of [...CARDS, ...expiries, '73920584', CALLER, CALLER.slice(1)]) expect(holdsValue(text, v)).toBe(false);
    const subject = h.app.services.subjectHash(CALLER);
    expect(text).not.toContain(subject);
    // only audit trails (and replay answers, which hold TwiML prompts) name the calls now
    const naming = keys.filter((k) => k.key.includes(c1.sid) || k.content.includes(c1.sid)).map((k) => k.key);
    expect(naming.every((k) => k.includes(':audit:') || k.includes(':replay:'))).toBe(true);
    const trail = await h.app.services.audit.verify(c1.sid);
    expect(trail.verified).toBe(true);
    expect(trail.entries.some((e) => e.type === 'subject.erased')).toBe(true);
    for (const c of [c1, c2]) await c.hangup().catch(() => undefined);
  }, 60000);

  test('an erasure while a delivery is sending the values waits for it to end before it tells the processor to erase', async () => {
    const caller = '+15557774444';
    const slowMs = 1_500;
    const answer = gw.answer;
    gw.answer = (n, req) => (req.path === '/charge' ? { status: 200, body: { approved: true }, delayMs: slowMs } : answer(n, req));
    try {
      const before = gw.received.filter((r) => r.path === '/charge').length;
      const c = await payByPhone(CARDS[0], currentExpiry(5), caller);
      await waitFor(() => gw.received.filter((r) => r.path === '/charge').length > before, 'the charge to reach the gateway', 10000);
      const charge = gw.received.filter((r) => r.path === '/charge').at(-1)!;
      // the gateway holds the charge: the erasure comes while the values are on their way
      const erased = await fetch(`${h.url}/v1/subjects/${encodeURIComponent(caller)}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
      expect(erased.status).toBe(200);
      const erase = gw.received.filter((r) => r.path === '/erase' && JSON.parse(r.body).subject === caller);
      expect(erase).toHaveLength(1);
      expect(erase[0].at).toBeGreaterThanOrEqual(charge.at + slowMs);
      await c.hangup().catch(() => undefined);
    } finally {
      gw.answer = answer;
    }
  }, 60000);
});
