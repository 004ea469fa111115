/**
 * A dial handoff whose <Dial> does not connect (CONTRACT §2 `/twilio/dial-status`, §3 dial
 * mode): a busy, unanswered or unreachable agent. Twilio ends the dialled call and requests the
 * <Dial action>; the caller, who has already given their values, hears the fixed no-agent apology
 * and is hung up, never silence. The outcome is on the call's audit trail, replay-safe. A dial
 * that connected still answers empty TwiML.
 */
import { systemMessage } from '../../src/flows/prompt-defaults';
import { holdsValue } from '../support/values';
import { metricValue, SUPPORT_NUMBER, startHarness, waitFor, webhookParams, type Harness } from '../support/harness';
import type { DialOutcome, EmulatedCall } from '../../tools/emulator';

const CALLER = '+15550004444';
const DOB = '14021985';
const APOLOGY = systemMessage('no-agent');

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());
afterEach(() => {
  delete h.emulator.faults.dialOutcome;
});

/** a call to the support flow (a date of birth, then a dial to client:alice) whose agent does `outcome`, run to its end */
async function dialledCall(outcome: DialOutcome): Promise<EmulatedCall> {
  h.emulator.faults.dialOutcome = outcome;
  const call = await h.emulator.placeCall({ from: CALLER, to: SUPPORT_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl, onGather: () => DOB });
  await call.ended;
  return call;
}

/** tonewall_dial_handoffs_total{status} */
const dialHandoffs = (status: string) => metricValue(h, 'tonewall_dial_handoffs_total', { status });
const dialEntries = async (callSid: string) => (await h.app.services.audit.list(callSid)).filter((e) => e.type === 'handoff.dial-ended');
const afterDial = (call: EmulatedCall) => call.transcript.slice(call.transcript.findIndex((t) => t.verb === 'Dial'));
const dialAction = (callSid: string) => h.emulator.timelineFor(callSid).filter((e) => e.type === 'webhook' && e.purpose === 'dial-action');

test.each([
  ['busy', { status: 'busy' }],
  ['no-answer', { status: 'no-answer', secondMs: 1 }],
  ['failed', { status: 'failed' }],
  ['canceled', { status: 'canceled', ringSeconds: 5, secondMs: 1 }],
] as const)('an agent whose dial ends %s: the caller hears the apology and is hung up, the outcome audited and counted', async (status, outcome) => {
  const counted = await dialHandoffs(status);
  const call = await dialledCall(outcome);
  expect(await dialHandoffs(status)).toBe(counted + 1);
  expect(afterDial(call)).toEqual([{ verb: 'Dial', target: 'alice', targetKind: 'Client' }, { verb: 'Say', text: APOLOGY }, { verb: 'Hangup' }]);
  expect(dialAction(call.sid)).toEqual([expect.objectContaining({ status: 200 })]);

  const entries = await dialEntries(call.sid);
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({
    type: 'handoff.dial-ended',
    twilioStatus: status,
    connected: false,
    dialCallSid: expect.stringMatching(/^CA[0-9a-f]{32}$/),
  });
  expect(entries[0]).not.toHaveProperty('durationSeconds');
  expect((await h.app.services.audit.verify(call.sid)).verified).toBe(true);

  // nothing of the caller in the trail or the log lines of the dial's end
  const trail = JSON.stringify(await h.app.services.audit.list(call.sid));
  for (const secret of [DOB, CALLER, CALLER.slice(1)]) expect(holdsValue(trail, secret)).toBe(false);
  const warned = h.logs.lines
    .map((l) => JSON.parse(l) as { callSid?: string; msg: string; dialCallStatus?: string; level: number })
    .filter((l) => l.callSid === call.sid && l.msg.startsWith('dial handoff'));
  expect(warned).toEqual([expect.objectContaining({ level: 40, dialCallStatus: status, msg: 'dial handoff did not connect: apology and hang-up' })]);
});

test('an agent who answers: no apology, the call ends with the dial, the talk time audited, counted as completed', async () => {
  const counted = await dialHandoffs('completed');
  const call = await dialledCall({ status: 'completed', ringSeconds: 2, talkSeconds: 7, secondMs: 10 });
  expect(await dialHandoffs('completed')).toBe(counted + 1);
  expect(afterDial(call)).toEqual([{ verb: 'Dial', target: 'alice', targetKind: 'Client' }]);
  expect(call.transcript.some((t) => t.verb === 'Say' && t.text === APOLOGY)).toBe(false);
  expect(await dialEntries(call.sid)).toEqual([expect.objectContaining({ twilioStatus: 'completed', connected: true, durationSeconds: 7 })]);
});

test('the dial-status request is replay-safe: a resend, whatever it says, gets the first answer and audits and counts nothing more', async () => {
  const call = await dialledCall({ status: 'busy' });
  await waitFor(async () => (await dialEntries(call.sid)).length === 1 || null, 'the dial audited');
  const counted = [await dialHandoffs('busy'), await dialHandoffs('completed')];
  const url = `${h.publicUrl}/twilio/dial-status`;
  const resent = await h.emulator.signedPost(
    url,
    webhookParams(call.sid, SUPPORT_NUMBER, { DialCallStatus: 'completed', DialCallSid: 'CA' + 'e'.repeat(32), DialCallDuration: '9' }),
  );
  expect(resent.status).toBe(200);
  expect(resent.body).toContain(APOLOGY);
  expect(resent.body).toContain('<Hangup/>');
  expect(await dialEntries(call.sid)).toHaveLength(1);
  expect([await dialHandoffs('busy'), await dialHandoffs('completed')]).toEqual(counted);
});

test('a Spanish flow’s caller hears the apology in Spanish, in the flow’s voice', async () => {
  const h2 = await startHarness({
    flows: {
      soporte: [
        'id: soporte',
        'numbers: ["+15005550010"]',
        'language: es-MX',
        'voice: Polly.Mia',
        'steps:',
        '  - say: "Bienvenido."',
        'handoff:',
        '  mode: dial',
        '  to: "+15005550011"',
      ].join('\n'),
    },
  });
  try {
    h2.emulator.faults.dialOutcome = { status: 'no-answer', secondMs: 1 };
    const call = await h2.emulator.placeCall({ from: CALLER, to: '+15005550010', voiceUrl: h2.voiceUrl });
    await call.ended;
    expect(afterDial(call)).toEqual([
      { verb: 'Dial', target: '+15005550011', targetKind: 'Number' },
      { verb: 'Say', text: systemMessage('no-agent', 'es-MX'), language: 'es-MX', voice: 'Polly.Mia' },
      { verb: 'Hangup' },
    ]);
  } finally {
    await h2.close();
  }
});
