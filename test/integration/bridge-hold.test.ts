/**
 * A caller on hold is never left there: when no agent takes an offered call, or the dialled
 * agent never answers, the hold runs out, the caller hears an apology over Twilio's modify-call
 * REST API, in the flow's language and voice, the call ends cleanly and the session and audit
 * say why.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GatherRequest, TranscriptEntry } from '../../tools/emulator';
import { systemMessage } from '../../src/flows/prompt-defaults';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { expectNoStreamErrors } from '../support/streams';
import { currentExpiry } from '../support/values';

const OFFER_NUMBER = '+15005550131';
const ASSIGNED_NUMBER = '+15005550132';
/** config/flows/payments-es.yaml's number: the sample Spanish flow (es-MX, Polly.Mia), a bridge nobody is dialled for */
const SPANISH_NUMBER = '+15005550008';
const HOLD_MS = 600;
const NO_AGENT_APOLOGY = systemMessage('no-agent');
/** what the Spanish flow asks, in order: the account twice, the card, its expiry and code, the postal code */
const SPANISH_KEYS = ['73920584#', '73920584#', '378282246310005#', currentExpiry(1), '1234#', '28013#'];

let h: Harness;
let flowsDir: string;

beforeAll(async () => {
  flowsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-hold-'));
  fs.writeFileSync(path.join(flowsDir, 'offer.yaml'), `id: offer\nnumbers: ["${OFFER_NUMBER}"]\nsteps: []\nhandoff:\n  mode: bridge\n`);
  fs.writeFileSync(
    path.join(flowsDir, 'assigned.yaml'),
    `id: assigned\nnumbers: ["${ASSIGNED_NUMBER}"]\nsteps: []\nhandoff:\n  mode: bridge\n  to: "client:alice"\n`,
  );
  fs.copyFileSync(path.join(__dirname, '../../config/flows/payments-es.yaml'), path.join(flowsDir, 'payments-es.yaml'));
  h = await startHarness({ flowsDir, build: { holdTimeoutMs: HOLD_MS } });
});
// no message the service sent on any stream is one Twilio refuses (31924)
afterEach(() => expectNoStreamErrors(h.emulator));

afterAll(async () => {
  await h.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

/** the last thing the caller heard before the hangup */
function apology(transcript: TranscriptEntry[]): TranscriptEntry | undefined {
  const end = transcript.findIndex((t) => t.verb === 'Hangup');
  return end > 0 ? transcript[end - 1] : undefined;
}

async function holdRunsOut(to: string, onGather?: (g: GatherRequest) => string | null) {
  const call = await h.emulator.placeCall({ from: '+15553334444', to, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl, onGather });
  await call.legReady;
  const t0 = Date.now();
  await call.ended;
  const held = Date.now() - t0;
  expect(call.transcript.some((t) => t.verb === 'Hangup')).toBe(true);
  expect(held).toBeGreaterThanOrEqual(HOLD_MS - 100);
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'ended', 'the session to end');
  const trail = await h.app.services.audit.verify(call.sid);
  expect(trail.entries.map((e) => e.type)).toContain('bridge.no-agent');
  expect(h.app.services.bridges.get(call.sid)).toBeUndefined();
  return call;
}

test('an offered call nobody accepts: apology, clean end', async () => {
  const call = await holdRunsOut(OFFER_NUMBER);
  // a flow with no language: English, in Twilio's default voice
  expect(apology(call.transcript)).toEqual({ verb: 'Say', text: NO_AGENT_APOLOGY });
});

test("the Spanish flow: the hold runs out and the apology is in Spanish, in the flow's language and voice", async () => {
  const call = await holdRunsOut(SPANISH_NUMBER, (g) => SPANISH_KEYS[g.index] ?? null);
  expect(call.gathers).toHaveLength(SPANISH_KEYS.length);
  expect(apology(call.transcript)).toEqual({
    verb: 'Say',
    text: 'Lo sentimos, en este momento no hay ningún agente disponible para atender su llamada. Por favor, llame más tarde. Adiós.',
    language: 'es-MX',
    voice: 'Polly.Mia',
  });
  expect(call.transcript.some((t) => t.verb === 'Say' && t.text === NO_AGENT_APOLOGY)).toBe(false);
});

test('a dialled agent who never answers: the caller hears the apology', async () => {
  h.emulator.faults.outboundCallOutcome = 'no-answer';
  let agentSid: string | undefined;
  h.emulator.onOutboundCall((c) => (agentSid ??= c.sid));
  try {
    const call = await holdRunsOut(ASSIGNED_NUMBER);
    expect(apology(call.transcript)).toEqual({ verb: 'Say', text: NO_AGENT_APOLOGY });
  } finally {
    delete h.emulator.faults.outboundCallOutcome;
  }
  expect(agentSid).toBeDefined();
});

test('a bridged call is not cut off by the hold timer', async () => {
  let agentLegReady: Promise<unknown> | undefined;
  h.emulator.onOutboundCall((c) => (agentLegReady ??= c.legReady));
  const call = await h.emulator.placeCall({ from: '+15553335555', to: ASSIGNED_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  await call.legReady;
  await waitFor(() => agentLegReady, 'the agent leg');
  await agentLegReady;
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'bridged', 'the bridge');
  await new Promise((r) => setTimeout(r, HOLD_MS * 2));
  expect((await h.app.services.calls.get(call.sid))?.state).toBe('bridged');
  expect(call.transcript.some((t) => t.verb === 'Say' && (t as { text: string }).text === NO_AGENT_APOLOGY)).toBe(false);
  await call.hangup();
});
