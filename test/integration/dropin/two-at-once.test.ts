/**
 * Two drop-in captures of one call at once, to two flows (the app redirected the call over REST
 * while Twilio was fetching its first capture, say): one capture per call, so the one whose
 * record comes second is refused as a call tonewall already holds, never run on the first one's
 * record with another flow's steps.
 */
import { cardCaptureFlow, CALLER, OTHER_CAPTURE_FLOW, SHOP_NUMBER, startDropinShop, type DropinShop } from '../../support/dropin';
import { ACCOUNT_SID } from '../../support/harness';

let d: DropinShop;

beforeAll(async () => {
  d = await startDropinShop({ 'card-capture': cardCaptureFlow(), 'other-capture': OTHER_CAPTURE_FLOW });
}, 30_000);

afterAll(async () => {
  await d?.close();
});

it('two captures of one call at once, to two flows: one runs, the other is refused (call-already-known), audited once', async () => {
  d.shop.reset();
  const callSid = 'CA' + 'b'.repeat(32);
  const params = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: CALLER, To: SHOP_NUMBER, CallStatus: 'in-progress', Direction: 'inbound' };
  const url = (flow: string) => `${d.h.publicUrl}/twilio/capture/${flow}?return=${encodeURIComponent(d.shop.returnUrl)}`;
  const answers = await Promise.all(['card-capture', 'other-capture'].map((flow) => d.h.emulator.signedPost(url(flow), params)));
  for (const a of answers) expect(a.status).toBe(200);
  const refused = (await d.h.app.services.audit.list(callSid)).filter((e) => (e as { type?: string }).type === 'dropin.refused');
  expect(refused).toEqual([expect.objectContaining({ reason: 'call-already-known' })]);
  expect(answers.filter((a) => a.body.includes('<Hangup/>'))).toHaveLength(1);
});
