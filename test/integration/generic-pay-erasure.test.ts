/**
 * A caller's erasure tells each processor what it was sent, and no more (security review): a
 * twilio-generic-pay gateway, never sent the caller's number, is told the transaction ids it was
 * charged under, never the number; one that took nothing of the caller's is told nothing; a
 * tonewall-protocol processor, whose deliveries carry the number, is told it whether or not a
 * delivery record of the caller's is still held (processors/erase.ts says why). Driven end to end:
 * an IVR card call from the caller through the emulator's keypad, the charge, then the admin's
 * DELETE.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TokenAuth } from '../../src/auth/tokens';
import { verifyProcessorRequest } from '../../src/processors';
import { CARD_STEPS, writeFlows } from '../support/card-flows';
import { CHARGER_SECRET, startGateway, type Gateway } from '../support/gateway';
import { genericPayProcessor, startGenericPayGateway, type GenericPayGateway } from '../support/generic-pay-gateway';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { currentExpiry } from '../support/values';

const NUMBER = '+15005550016';
const CALLER = '+15557778888';
const USER = 'connector-user';
const PASSWORD = 'connector password text';
const IDLE_SECRET = 'idle-erasure-key-0123456789abcdefgh';
const LEDGER_SECRET = 'ledger-delivery-key-0123456789abcdef';
const CARD = '4111111111111111';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

const FLOW = `id: card-payment
numbers: ["${NUMBER}"]
record: true
steps:
${CARD_STEPS.card}${CARD_STEPS.expiry}${CARD_STEPS.cvv}handoff:
  mode: bridge
`;

describe('an erasure forwarded to twilio-generic-pay and tonewall processors', () => {
  let h: Harness;
  let gw: GenericPayGateway;
  let ledger: Gateway;
  let dir: string;
  let flowsDir: string;
  let admin: string;

  beforeAll(async () => {
    gw = await startGenericPayGateway({ username: USER, password: PASSWORD });
    ledger = await startGateway();
    dir = mkdtempSync(path.join(tmpdir(), 'tw-gpc-erase-'));
    flowsDir = writeFlows({ 'card-payment': FLOW });
    const file = path.join(dir, 'processors.yaml');
    // `idle` and `ledger` take a field this flow never collects: no call of the caller's reaches them
    writeFileSync(
      file,
      'processors:\n' +
        genericPayProcessor('charger', gw, {
          fields: '[card, expiry, cvv]',
          method: 'charge',
          amount: '"12.50"',
          eraseUrl: `${gw.url}/erase/charger`,
          secretEnv: 'CHARGER_SECRET',
        }) +
        genericPayProcessor('idle', gw, {
          fields: '[card, expiry, member]',
          method: 'tokenize',
          eraseUrl: `${gw.url}/erase/idle`,
          secretEnv: 'IDLE_SECRET',
        }) +
        `  - name: ledger
    url: ${ledger.url}/charge
    secretEnv: LEDGER_SECRET
    fields: [member]
    eraseUrl: ${ledger.url}/erase
`,
    );
    h = await startHarness({
      flowsDir,
      env: {
        PROCESSORS_FILE: file,
        CONNECTOR_USER: USER,
        CONNECTOR_PASSWORD: PASSWORD,
        CHARGER_SECRET,
        IDLE_SECRET,
        LEDGER_SECRET,
      },
    });
    admin = new TokenAuth(h.config.agentJwtSecret).sign({ sub: 'dpo', endpoint: 'client:dpo', role: 'admin' });
  });
  afterAll(async () => {
    await h?.close();
    await gw?.close();
    await ledger?.close();
    for (const d of [dir, flowsDir]) rmSync(d, { recursive: true, force: true });
  });

  test('the gateway is told the transaction id it charged, never the number; one that took nothing is told nothing; tonewall processors get the subject', async () => {
    const answers = [`${CARD}#`, currentExpiry(3), '737#'];
    const call = await h.emulator.placeCall({
      from: CALLER,
      to: NUMBER,
      voiceUrl: h.voiceUrl,
      statusCallback: h.statusUrl,
      onGather: () => answers.shift() ?? null,
    });
    const charge = await waitFor(() => gw.calls.find((c) => c.body.method === 'charge' && c.status === 200), 'the charge', 20000);
    expect(gw.made.has(charge.body.transaction_id)).toBe(true);
    // the other gateway and the tonewall processor took nothing of the caller's
    expect(gw.calls.filter((c) => c.body.method === 'tokenize')).toEqual([]);
    expect(ledger.received).toEqual([]);

    const erased = await fetch(`${h.url}/v1/subjects/${encodeURIComponent(CALLER)}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
    expect(erased.status).toBe(200);
    const receipt = (await erased.json()) as { receiptId: string; processors: unknown[] };

    // the gateway: signed with its key, the id it charged under and the receipt, nothing of the caller
    const erase = gw.erasures.find((e) => e.path === '/erase/charger')!;
    const verified = verifyProcessorRequest(erase.signature, erase.body, CHARGER_SECRET, 'erasure');
    expect(verified).toEqual({ purpose: 'erasure', transactionIds: [charge.body.transaction_id], receiptId: receipt.receiptId });
    expect(erase.body).not.toContain('subject');
    // no digit at all outside the two ids: none of the caller's number, in any form
    expect(erase.body.replace(UUID, '')).not.toMatch(/\d/);
    for (const part of [CALLER, CALLER.slice(1), CALLER.slice(-7), CALLER.slice(-4)]) expect(erase.body).not.toContain(part);
    // the gateway that took nothing of the caller's is told nothing, and the receipt says why
    expect(gw.erasures.map((e) => e.path)).toEqual(['/erase/charger']);
    expect(receipt.processors).toEqual([
      { name: 'charger', status: 'forwarded', httpStatus: 204 },
      { name: 'idle', status: 'no-delivery' },
      { name: 'ledger', status: 'forwarded', httpStatus: 200 },
    ]);

    // the tonewall processor: the subject its protocol's deliveries carry, though none of this caller's reached it
    const toLedger = ledger.received.filter((r) => r.path === '/erase');
    expect(toLedger).toHaveLength(1);
    expect(verifyProcessorRequest(String(toLedger[0].headers['x-tonewall-signature']), toLedger[0].body, LEDGER_SECRET, 'erasure')).toEqual({
      purpose: 'erasure',
      subject: CALLER,
      receiptId: receipt.receiptId,
    });
    expect(h.logs.text).not.toContain(CALLER.slice(1));
    await call.hangup().catch(() => undefined);
  }, 60000);
});
