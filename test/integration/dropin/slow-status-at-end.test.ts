/**
 * A capture's last webhook reads the call's status before it answers (a call over by then gets its
 * result server to server: hangup-at-end.test.ts). That read is one more REST request inside the
 * webhook Twilio waits 15 s for, after the resume of the app's recording (up to 3 s) and the
 * processors' wait (up to 8 s): a Twilio slow to answer it must not take the webhook past 15 s,
 * or the call gets Twilio's application error and the app never hears of the capture.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EmulatedCall, GatherRequest } from '../../../tools/emulator';
import { CARD, cardCaptureFlow, startDropinShop, verified, type DropinShop } from '../../support/dropin';
import { waitFor } from '../../support/harness';
import { currentExpiry } from '../../support/values';

let d: DropinShop;

beforeAll(async () => {
  d = await startDropinShop({ 'card-capture': cardCaptureFlow() });
}, 30_000);

afterAll(async () => {
  await d?.close();
});

it("a slow read of the call's status at the capture's end still returns the call to the app", async () => {
  d.shop.reset();
  // the app records the call, so the capture's end resumes that recording first
  d.shop.recordings = 1;
  // the gateway answers after the processors' wait is over: the capture waits it out (processor-error)
  d.shop.onCharge = () => sleep(8_500);
  let c: EmulatedCall | undefined = undefined;
  c = await d.call((g: GatherRequest) => {
    const p = g.prompt.join(' ');
    if (p.includes('card number')) return `${CARD}#`;
    if (p.includes('expiry')) return currentExpiry(14);
    if (p.includes('security code')) {
      // Twilio slow from here on: the recording's resume answered late, within its bound, and a
      // read of the call later than the REST client's own timeout
      d.h.emulator.faults.recordingResume = { delayMs: 2_800 };
      d.h.emulator.faults.callsFetch = { delayMs: 8_000 };
      return '737';
    }
    return null;
  });
  let over = false;
  void c.ended.then(() => (over = true));
  try {
    await waitFor(() => d.shop.returned.length > 0 || over, 'the call back at the app, or over', 30_000);
    expect(d.shop.returned).toHaveLength(1);
    expect(d.shop.returned[0].fromTwilio).toBe(true);
    expect(verified(d.shop.returned[0])).toMatchObject({ CallSid: c.sid, Result: 'processor-error', card_last4: '1111' });
  } finally {
    d.h.emulator.faults.recordingResume = undefined;
    d.h.emulator.faults.callsFetch = undefined;
    await c.hangup().catch(() => undefined);
  }
}, 60_000);
