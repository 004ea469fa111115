/**
 * SIGTERM with SHUTDOWN_DRAIN_MS at its most (8 s) while a capture runs on the instance and
 * Twilio answers its recording's resume slowly: the drain's start ends the capture (the resume
 * takes its seconds), and the drain's wait runs from the signal, not from that end, so the close
 * keeps its 2 s and the process exits 0 within the contract's 10 s. Waited out after the
 * capture's end, the wait ran past the deadline: exit 1, and the close (the audit trail's held
 * entries' last try, the store's close) never ran.
 */
import { type EmulatedCall } from '../../tools/emulator';
import { waitFor } from '../support/harness';
import { ALICE_NUMBER, api, CALLER, token } from '../support/agents';
import { spawnedPairSuite } from '../support/spawned-pair';

const PUB = 'https://ivr.drain-slow-end.test';
/** how long Twilio takes to answer the capture end's resume (within the resume's 3 s bound) */
const SLOW_RESUME_MS = 2_500;

const pair = spawnedPairSuite();

it('SIGTERM with the longest drain while a capture ends slowly: exit 0 within 10 s', async () => {
  const started = await pair.start({ publicUrl: PUB, logLevel: 'info', aEnv: { SHUTDOWN_DRAIN_MS: '8000' } });
  const { emulator: em, a: child, exited, b: hb } = started;

  let agentCall: EmulatedCall | undefined;
  em.onOutboundCall((c) => (agentCall ??= c));
  const call = await em.placeCall({ from: CALLER, to: ALICE_NUMBER, voiceUrl: `${PUB}/twilio/voice`, statusCallback: `${PUB}/twilio/status` });
  await call.legReady;
  const agentC = await waitFor(() => agentCall, 'the agent call', 10_000);
  await agentC.legReady;
  await waitFor(async () => (await hb.app.services.calls.get(call.sid))?.state === 'bridged', 'bridged on A', 10_000);
  await waitFor(() => agentC.recordingStatus === 'in-progress', "the agent call's recording", 10_000);

  // a capture runs on A, the recording paused for it
  const started201 = await api(hb, 'POST', `/v1/calls/${call.sid}/captures`, token(hb, 'alice'), { name: 'card', kind: 'card-number' });
  expect(started201.status).toBe(201);
  await waitFor(() => agentC.recordingStatus === 'paused', 'the recording paused for the capture', 10_000);

  // the resume at the capture's end (the drain's start) is answered late
  em.faults.recordingResume = { delayMs: SLOW_RESUME_MS, times: 1 };
  const signalled = performance.now();
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  const tookMs = performance.now() - signalled;
  expect(started.output).not.toContain('shutdown deadline passed');
  expect(tookMs).toBeGreaterThanOrEqual(8000);
  expect(tookMs).toBeLessThan(10_000);
  await waitFor(() => agentC.recordingStatus === 'in-progress', 'the recording resumed', 10_000);

  await call.hangup();
  await agentC.ended;
}, 90_000);
