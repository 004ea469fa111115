/**
 * Issue 13: a processor with `protocol: twilio-generic-pay` gets an IVR call's card exactly as
 * Twilio's Generic Pay Connector sends it, to a gateway written to that spec (HTTP Basic auth,
 * the connector's JSON fields, its charge_id / token_id / error_code answers), driven end to end
 * through the emulator. The agent sees the allow-listed summary only; no captured value reaches
 * a log line, an event or the store.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CallEvent } from '../../src/bus';
import { CARD_STEPS, writeFlows } from '../support/card-flows';
import { genericPayProcessor, startGenericPayGateway, type GenericPayGateway } from '../support/generic-pay-gateway';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { currentExpiry, holdsValue } from '../support/values';

const NUMBER = '+15005550016';
const CALLER = '+15557774444';
const USER = 'connector-user';
const PASSWORD = 'connector password text';
const APPROVED_CARD = '4111111111111111';
const DECLINED_CARD = '5555555555554444';
const CVV = '737';
const ZIP = '94105';

const FLOW = `id: card-payment
numbers: ["${NUMBER}"]
record: true
steps:
${CARD_STEPS.card}${CARD_STEPS.expiry}  - collect: cvv
    kind: security-code
    prompt: "Key in the security code, then press hash."
  - collect: zip
    kind: digits
    minLength: 5
    maxLength: 5
    prompt: "Key in your billing zip code, then press hash."
handoff:
  mode: bridge
`;

describe('a twilio-generic-pay processor through the app', () => {
  let h: Harness;
  let gw: GenericPayGateway;
  let dir: string;
  let flowsDir: string;
  const events: CallEvent[] = [];

  beforeAll(async () => {
    gw = await startGenericPayGateway({ username: USER, password: PASSWORD });
    gw.declined.add(DECLINED_CARD);
    dir = mkdtempSync(path.join(tmpdir(), 'tw-gpc-'));
    flowsDir = writeFlows({ 'card-payment': FLOW });
    const file = path.join(dir, 'processors.yaml');
    writeFileSync(
      file,
      'processors:\n' +
        genericPayProcessor('charger', gw, {
          fields: '[card, expiry, cvv, zip]',
          connectorFields: '{ postal_code: zip }',
          method: 'charge',
          amount: '"12.50"',
          currency: 'gbp',
          description: 'Invoice payment',
          parameters: '{ merchant: example-co }',
        }) +
        genericPayProcessor('vaulter', gw, { fields: '[card, expiry]', method: 'tokenize', tokenType: 'one-time' }),
    );
    h = await startHarness({ flowsDir, env: { PROCESSORS_FILE: file, CONNECTOR_USER: USER, CONNECTOR_PASSWORD: PASSWORD } });
    await h.app.services.events.subscribe((e) => events.push(e));
  });
  afterAll(async () => {
    await h?.close();
    await gw?.close();
    for (const d of [dir, flowsDir]) rmSync(d, { recursive: true, force: true });
  });

  async function pay(card: string, expiry: string) {
    const answers = [`${card}#`, expiry, `${CVV}#`, `${ZIP}#`];
    return h.emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl, onGather: () => answers.shift() ?? null });
  }
  const resultsFor = (callSid: string) =>
    events.filter((e): e is Extract<CallEvent, { type: 'processor.result' }> => e.type === 'processor.result' && e.callSid === callSid);

  test('charges and tokenizes with the connector request; a decline reaches the agent without its text', async () => {
    const expiry = currentExpiry(5);
    // the gateway is down for the first try: the retry carries the same transaction_id
    gw.failNext.charge = 1;
    const approved = await pay(APPROVED_CARD, expiry);
    await waitFor(() => resultsFor(approved.sid).length === 2, 'both results of the approved call', 20000);

    expect(gw.refused).toEqual([]);
    for (const c of gw.calls) expect(c.authorization).toBe('Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
    const charges = gw.calls.filter((c) => c.body.method === 'charge');
    expect(charges.map((c) => c.status)).toEqual([503, 200]);
    expect(charges[0].body.transaction_id).toBe(charges[1].body.transaction_id);
    expect(charges[1].body).toEqual({
      transaction_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      cardnumber: APPROVED_CARD,
      cvv: CVV,
      expiry_month: expiry.slice(0, 2),
      expiry_year: expiry.slice(2),
      description: 'Invoice payment',
      amount: '12.50',
      currency_code: 'GBP',
      postal_code: ZIP,
      method: 'charge',
      parameters: { merchant: 'example-co' },
    });
    const tokenizes = gw.calls.filter((c) => c.body.method === 'tokenize');
    expect(tokenizes).toHaveLength(1);
    // only the fields this processor lists, and no amount for a tokenize
    expect(tokenizes[0].body).toEqual({
      transaction_id: expect.any(String),
      cardnumber: APPROVED_CARD,
      expiry_month: expiry.slice(0, 2),
      expiry_year: expiry.slice(2),
      method: 'tokenize',
      token_type: 'one-time',
    });
    expect(tokenizes[0].body.transaction_id).not.toBe(charges[0].body.transaction_id);
    expect(gw.made.size).toBe(2);

    expect(charges[1].answer).toEqual({ charge_id: expect.stringMatching(/^ch_gw\d$/), error_code: null, error_message: null });
    expect(tokenizes[0].answer).toEqual({ token_id: expect.stringMatching(/^tok_gw\d$/), error_code: null, error_message: null });
    const [charged, tokenized] = ['charger', 'vaulter'].map((p) => resultsFor(approved.sid).find((e) => e.processor === p)!);
    expect(charged).toMatchObject({ ok: true, status: 200, attempts: 2 });
    expect(charged.result).toEqual({
      approved: true,
      status: 'charged',
      reference: (charges[1].answer as { charge_id: string }).charge_id,
      last4: '1111',
      brand: 'visa',
    });
    expect(tokenized).toMatchObject({ ok: true, status: 200, attempts: 1 });
    expect(tokenized.result).toEqual({
      approved: true,
      status: 'tokenized',
      token: (tokenizes[0].answer as { token_id: string }).token_id,
      last4: '1111',
      brand: 'visa',
    });

    // the call's record keeps each result for a panel that reloads, but not the card's token: it can be charged again
    const kept = (await h.app.services.calls.get(approved.sid))!.processorResults!;
    expect(kept.find((o) => o.processor === 'vaulter')!.result).toEqual({ approved: true, status: 'tokenized', last4: '1111', brand: 'visa' });
    expect(JSON.stringify(kept)).not.toContain(tokenized.result!.token!);

    const declined = await pay(DECLINED_CARD, expiry);
    await waitFor(() => resultsFor(declined.sid).length === 2, 'both results of the declined call', 20000);
    const refusal = resultsFor(declined.sid).find((e) => e.processor === 'charger')!;
    // the gateway's answer to a decline is a 200: delivered, once, not retried
    expect(refusal).toMatchObject({ ok: true, status: 200, attempts: 1 });
    expect(refusal.result).toEqual({ approved: false, status: 'declined', code: 'card_declined', last4: '4444', brand: 'mastercard' });
    expect(gw.calls.filter((c) => c.body.cardnumber === DECLINED_CARD)).toHaveLength(2);
    expect(JSON.stringify(gw.calls.find((c) => c.body.cardnumber === DECLINED_CARD)!.answer)).toContain(DECLINED_CARD);
    expect(gw.refused).toEqual([]);

    // nothing is sent again later
    const sent = gw.calls.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(gw.calls).toHaveLength(sent);

    // no captured value and no credential in any event, log line or stored key
    const values = [APPROVED_CARD, DECLINED_CARD, expiry, CVV, ZIP, CALLER, PASSWORD];
    const eventText = JSON.stringify(events);
    const logText = h.logs.text;
    expect(logText).toContain('processor delivery accepted');
    const keys = await h.scan();
    const storeText = keys.map((k) => `${k.key} ${k.content}`).join('\n');
    for (const v of values) {
      expect(holdsValue(eventText, v)).toBe(false);
      expect(holdsValue(logText, v)).toBe(false);
      expect(holdsValue(storeText, v)).toBe(false);
    }
    expect(logText).not.toContain('declined by the issuer');
    expect(eventText).not.toContain('declined by the issuer');
    for (const c of [approved, declined]) await c.hangup().catch(() => undefined);
  }, 60000);
});
