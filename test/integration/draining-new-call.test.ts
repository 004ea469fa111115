/**
 * A new call's first webhook reaching an instance that is stopping (SIGTERM, its drain: server.ts
 * SHUTDOWN_DRAIN_MS) is passed on, a second's silence and the same webhook again, with nothing
 * written for the call, so that the instance the load balancer sends it to next opens it; past
 * as many hops as a load balancer could need, it is taken even there. Signed webhooks, the real
 * app, a real store.
 */
import { MAX_DRAINING_HOPS } from '../../src/twilio/bridge-lost';
import { ACCOUNT_SID, startHarness, type Harness } from '../support/harness';

const NUMBER = '+15005550198';
const FLOW = `id: plain\nnumbers: ["${NUMBER}"]\nrecord: false\nsteps:\n  - say: "Hello from the plain flow."\nhandoff:\n  mode: dial\n  to: "+15005550100"\n`;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ flows: { plain: FLOW } });
});
afterAll(async () => h?.close());

const callSid = 'CA' + 'd'.repeat(32);
const params = {
  AccountSid: ACCOUNT_SID,
  ApiVersion: '2010-04-01',
  CallSid: callSid,
  CallStatus: 'ringing',
  Direction: 'inbound',
  From: '+15557654321',
  To: NUMBER,
};

it('passes a new call on while draining, writing nothing, as often as a load balancer could need, then takes it', async () => {
  h.app.services.draining = true;
  try {
    const passed = await h.emulator.signedPost(h.voiceUrl, params);
    expect(passed.status).toBe(200);
    expect(passed.body).toContain(`<Pause length="1"/><Redirect method="POST">${h.voiceUrl}?hop=1</Redirect>`);
    expect(passed.body).not.toContain('Hello from the plain flow.');
    expect(await h.app.services.calls.get(callSid)).toBeNull();
    expect(await h.app.services.audit.list(callSid)).toEqual([]);

    // Twilio's request of the <Redirect>: the call answered by the <Pause>
    const again = await h.emulator.signedPost(`${h.voiceUrl}?hop=1`, { ...params, CallStatus: 'in-progress' });
    expect(again.body).toContain(`${h.voiceUrl}?hop=2</Redirect>`);

    // unsigned, it is refused before anything, as ever
    expect((await h.emulator.signedPost(h.voiceUrl, params, { signature: null })).status).toBe(400);

    // passed on as often as a load balancer could need: then taken even here
    const last = await h.emulator.signedPost(`${h.voiceUrl}?hop=${MAX_DRAINING_HOPS}`, { ...params, CallStatus: 'in-progress' });
    expect(last.body).toContain('Hello from the plain flow.');
    expect((await h.app.services.calls.get(callSid))?.state).toBeDefined();
  } finally {
    h.app.services.draining = false;
  }
});

it('an instance that is not draining opens a passed-on call as any other answered one', async () => {
  const sid = 'CA' + 'e'.repeat(32);
  const opened = await h.emulator.signedPost(`${h.voiceUrl}?hop=3`, { ...params, CallSid: sid, CallStatus: 'in-progress' });
  expect(opened.body).toContain('Hello from the plain flow.');
  expect((await h.app.services.audit.list(sid)).map((e) => e.type)).toContain('call.started');
});
