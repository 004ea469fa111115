/**
 * A Twilio emulator or test rig whose CallSids are shorter than Twilio's 32 hex digits (the
 * contract says only `CA…`): the call is served as any other, not answered with the apology, and
 * the agent API finds it. Signed webhooks, the real app, a real store.
 */
import { APOLOGY } from '../../src/twilio/twiml';
import { ACCOUNT_SID, startHarness, type Harness } from '../support/harness';

const NUMBER = '+15005550199';
const FLOW = `id: plain\nnumbers: ["${NUMBER}"]\nrecord: false\nsteps:\n  - say: "Hello from the plain flow."\nhandoff:\n  mode: dial\n  to: "+15005550100"\n`;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ flows: { plain: FLOW } });
});
afterAll(async () => h?.close());

it('serves a call whose CallSid is CA and a few letters and digits, and shows it to a supervisor', async () => {
  const callSid = 'CAtest0001';
  const params = {
    AccountSid: ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: '+15557654321',
    To: NUMBER,
  };
  const voice = await h.emulator.signedPost(h.voiceUrl, params);
  expect(voice.status).toBe(200);
  expect(voice.body).toContain('Hello from the plain flow.');
  expect(voice.body).not.toContain(APOLOGY);

  const supervisor = h.app.services.auth.sign({ sub: 'sup-1', role: 'supervisor' });
  const got = await fetch(`${h.url}/v1/calls/${callSid}`, { headers: { authorization: `Bearer ${supervisor}` } });
  expect(got.status).toBe(200);
  expect(await got.json()).toMatchObject({ callSid, from: '+*******4321' });

  const status = await h.emulator.signedPost(h.statusUrl, { ...params, CallStatus: 'completed' });
  expect(status.status).toBeLessThan(300);
  expect(
    ((await (await fetch(`${h.url}/v1/calls/${callSid}`, { headers: { authorization: `Bearer ${supervisor}` } })).json()) as { state: string }).state,
  ).toBe('ended');
});
