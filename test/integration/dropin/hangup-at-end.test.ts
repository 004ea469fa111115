/**
 * A caller who hangs up in the capture's last webhook, after the last field, while tonewall waits
 * for the processor's answer (up to 8 s): Twilio drops the <Redirect> that answers it (the call is
 * over), so the app would never hear of a capture the processor has charged. The result goes to
 * the return URL server to server instead, as a hang-up's does, with what the capture got.
 */
import type { EmulatedCall, GatherRequest } from '../../../tools/emulator';
import { RESULT_SIGNATURE_HEADER, verifyCaptureResult } from '../../../src/dropin/result-signature';
import { CARD, cardCaptureFlow, RESULT_SECRET, startDropinShop, type DropinShop } from '../../support/dropin';
import { waitFor } from '../../support/harness';
import { currentExpiry } from '../../support/values';

let d: DropinShop;

beforeAll(async () => {
  d = await startDropinShop({ 'card-capture': cardCaptureFlow() }, { build: { dropinProcessorWaitMs: 2_000 } });
}, 30_000);

afterAll(async () => {
  await d?.close();
});

it("the caller hangs up while the processor charges the card: the app gets the capture's result server to server, signed, with the processor's answer", async () => {
  d.shop.reset();
  let c: EmulatedCall | undefined = undefined;
  // the caller leaves as the gateway takes the charge, before tonewall answers the last webhook
  d.shop.onCharge = async () => {
    await c!.hangup();
  };
  c = await d.call((g: GatherRequest) => {
    const p = g.prompt.join(' ');
    if (p.includes('card number')) return `${CARD}#`;
    if (p.includes('expiry')) return currentExpiry(14);
    if (p.includes('security code')) return '737';
    return null;
  });
  await c.ended;
  await waitFor(() => d.shop.returned.length > 0, 'the result at the return URL', 10_000);
  const back = d.shop.returned[0];
  expect(back.fromTwilio).toBe(false);
  const body = new URLSearchParams(back.body);
  expect(verifyCaptureResult(body, back.headers[RESULT_SIGNATURE_HEADER.toLowerCase()] as string, RESULT_SECRET)).toBe(true);
  expect(Object.fromEntries(body)).toMatchObject({ CallSid: c.sid, Result: 'success', card_last4: '1111', processor_gateway_status: 'approved', order: '42' });
  // once: no caller-hung-up after it
  await waitFor(async () => (await d.h.app.services.audit.list(c!.sid)).some((e) => (e as { type?: string }).type === 'dropin.returned'), 'dropin.returned');
  expect(d.shop.returned).toHaveLength(1);
});
