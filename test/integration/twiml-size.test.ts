/**
 * The service's TwiML, as large as it gets, is what Twilio takes: the emulator refuses a webhook
 * document over 64 kB (11750) and an inline `Twiml` over 4000 characters (32018), as Twilio
 * does. A flow whose words and first question come near the limit runs through, and every
 * document the call was given is within what the start-up measure (twilio/document-size.ts)
 * said the flow could produce; a bridge's agent call, created with its TwiML inline, is within
 * the measure of the agent call's TwiML.
 */
import { largestDocument, longestInlineTwiml, TWIML_DOCUMENT_MAX_BYTES } from '../../src/twilio/document-size';
import { agentFlows, agentSide, api, OFFER_NUMBER, placeCall, token } from '../support/agents';
import { startHarness, waitFor, type Harness } from '../support/harness';

const LONG_NUMBER = '+15005550051';
const WORDS = 14;
const LONG = 'a'.repeat(4000);

let h: Harness;

beforeAll(async () => {
  const steps = `  - say: "${LONG}"\n`.repeat(WORDS) + '  - collect: menu\n    kind: digits\n    sensitive: false\n    maxLength: 1\n    prompt: "Press 1."\n';
  h = await startHarness({
    flows: {
      long: `id: long\nnumbers: ["${LONG_NUMBER}"]\nrecord: true\nsteps:\n${steps}handoff:\n  mode: dial\n  to: "client:alice"\n`,
      offer: agentFlows().offer,
    },
  });
});

afterAll(async () => {
  await h?.close();
});

test("a flow near the limit: Twilio takes each of its documents, each within the flow's measure", async () => {
  const flow = h.app.services.flows.byId('long')!;
  const measured = largestDocument(flow, h.config);
  expect(measured.bytes).toBeLessThanOrEqual(TWIML_DOCUMENT_MAX_BYTES);
  const call = await h.emulator.placeCall({ from: '+15550004444', to: LONG_NUMBER, voiceUrl: h.voiceUrl, onGather: () => '1' });
  await waitFor(() => call.transcript.some((e) => e.verb === 'Dial'), 'the handoff');
  expect(call.transcript.filter((e) => e.verb === 'ApplicationError')).toEqual([]);
  const answers = h.emulator.timelineFor(call.sid).flatMap((e) => (e.type === 'webhook' && e.purpose !== 'recording-status-callback' ? [e.bodyLength] : []));
  expect(Math.max(...answers)).toBeGreaterThan(WORDS * 4000);
  for (const length of answers) expect(length).toBeLessThanOrEqual(measured.bytes);
});

test("a bridge's agent call: its inline TwiML is within the measure, and Twilio takes it", async () => {
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, token(h, 'alice'))).status).toBe(200);
  await agentSide(h, call.sid);
  const created = h.emulator.timeline.find((e) => e.type === 'rest' && e.method === 'POST' && /\/Calls\.json$/.test(e.path));
  expect(created).toMatchObject({ status: 201 });
  const twiml = created?.type === 'rest' ? created.params.Twiml : undefined;
  expect(typeof twiml).toBe('string');
  expect((twiml as string).length).toBeLessThanOrEqual(longestInlineTwiml(h.config));
});
