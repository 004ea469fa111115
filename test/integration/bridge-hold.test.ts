/**
 * A caller on hold is never left there: when no agent takes an offered call, or the dialled
 * agent never answers, the hold runs out, the caller hears an apology over Twilio's modify-call
 * REST API, the call ends cleanly and the session and audit say why.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NO_AGENT_APOLOGY } from '../../src/media/registry';
import { startHarness, waitFor, type Harness } from '../support/harness';

const OFFER_NUMBER = '+15005550131';
const ASSIGNED_NUMBER = '+15005550132';
const HOLD_MS = 600;

let h: Harness;
let flowsDir: string;

beforeAll(async () => {
  flowsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-hold-'));
  fs.writeFileSync(path.join(flowsDir, 'offer.yaml'), `id: offer\nnumbers: ["${OFFER_NUMBER}"]\nsteps: []\nhandoff:\n  mode: bridge\n`);
  fs.writeFileSync(
    path.join(flowsDir, 'assigned.yaml'),
    `id: assigned\nnumbers: ["${ASSIGNED_NUMBER}"]\nsteps: []\nhandoff:\n  mode: bridge\n  to: "client:alice"\n`,
  );
  h = await startHarness({ flowsDir, build: { holdTimeoutMs: HOLD_MS } });
});
afterAll(async () => {
  await h.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

async function holdRunsOut(to: string) {
  const call = await h.emulator.placeCall({ from: '+15553334444', to, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  await call.legReady;
  const t0 = Date.now();
  await call.ended;
  const held = Date.now() - t0;
  const said = call.transcript.filter((t) => t.verb === 'Say').map((t) => (t as { text: string }).text);
  expect(said).toContain(NO_AGENT_APOLOGY);
  expect(call.transcript.some((t) => t.verb === 'Hangup')).toBe(true);
  expect(held).toBeGreaterThanOrEqual(HOLD_MS - 100);
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'ended', 'the session to end');
  const trail = await h.app.services.audit.verify(call.sid);
  expect(trail.entries.map((e) => e.type)).toContain('bridge.no-agent');
  expect(h.app.services.bridges.get(call.sid)).toBeUndefined();
  return call;
}

test('an offered call nobody accepts: apology, clean end', async () => {
  await holdRunsOut(OFFER_NUMBER);
});

test('a dialled agent who never answers: the caller hears the apology', async () => {
  h.emulator.faults.outboundCallOutcome = 'no-answer';
  let agentSid: string | undefined;
  h.emulator.onOutboundCall((c) => (agentSid ??= c.sid));
  try {
    await holdRunsOut(ASSIGNED_NUMBER);
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
