/**
 * SIGTERM to the process as deployed (`src/server.ts`) with a call bridged on it whose caller's
 * media stream no longer reads (Twilio's edge wedged, a network that stopped delivering): the
 * stream's close frame, sent at the drain's start, goes unanswered through the drain, so it is
 * cut STOP_CLOSE_GRACE_MS after the close began (not earlier: the drain keeps its time), the
 * port closes, and the process exits 0. Before, ws waited 30 s for the answer and the server's
 * close for the socket: the close ran past its time, exit 1. Read again, the stream is found
 * gone and the call goes on through the other instance.
 */
import { type EmulatedCall } from '../../tools/emulator';
import { STOP_CLOSE_GRACE_MS } from '../../src/app-http';
import { waitFor } from '../support/harness';
import { ALICE_NUMBER, CALLER, nextLeg } from '../support/agents';
import { logLines } from '../support/held-on-spawned';
import { spawnedPairSuite } from '../support/spawned-pair';

const PUB = 'https://ivr.stream-unresponsive.test';
const DRAIN_MS = 1_000;

const pair = spawnedPairSuite();

it('SIGTERM with a media stream that answers no close: cut after the drain and the grace, exit 0, the call goes on elsewhere', async () => {
  const started = await pair.start({ publicUrl: PUB, logLevel: 'info', aEnv: { SHUTDOWN_DRAIN_MS: String(DRAIN_MS) } });
  const { emulator: em, a: child, exited, b: hb } = started;

  let agentCall: EmulatedCall | undefined;
  em.onOutboundCall((c) => (agentCall ??= c));
  const call = await em.placeCall({ from: CALLER, to: ALICE_NUMBER, voiceUrl: `${PUB}/twilio/voice`, statusCallback: `${PUB}/twilio/status` });
  const caller = await call.legReady;
  const agentC = await waitFor(() => agentCall, 'the agent call', 10_000);
  await agentC.legReady;
  await waitFor(async () => (await hb.app.services.calls.get(call.sid))?.state === 'bridged', 'bridged on A', 10_000);

  const resume = caller.stall();
  em.routeOrigin(PUB, hb.url);
  child.kill('SIGTERM');
  try {
    expect(await exited).toBe(0);
  } finally {
    resume();
  }
  const logged = logLines(started.output);
  expect(started.output).not.toContain('shutdown step did not end in its time');
  // the drain and then the grace, not cut earlier (and not waited 30 s: exit 0 is within 9 s)
  const begun = logged.find((l) => l.msg === 'shutting down: no new calls, closing streams')!;
  const exiting = logged.find((l) => l.msg === 'shutdown: exiting')!;
  expect(exiting).toMatchObject({ code: 0 });
  expect((exiting.time as number) - (begun.time as number)).toBeGreaterThanOrEqual(DRAIN_MS + STOP_CLOSE_GRACE_MS);

  // read again, the stream is gone: the call goes on through B
  await nextLeg(call, caller, "the caller's stream to B", 15_000);
  await waitFor(() => hb.app.services.bridges.get(call.sid)?.state === 'bridged', 'bridged again on B', 15_000);
  await call.hangup();
  await agentC.ended;
}, 90_000);
