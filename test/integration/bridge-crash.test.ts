/**
 * The instance holding a bridge dies mid-capture (SIGKILL: nothing of it runs again). It is a
 * process of its own (`src/server.ts`, as deployed) beside an in-process instance on the same
 * Redis, behind one PUBLIC_URL. Twilio's streams to it break; each leg's <Redirect> after <Connect> reaches
 * the other instance, which takes the call up. The capture the dead instance was running is
 * ended there: its agent's recording resumed (not left paused for the rest of the call), its
 * lock released (a new capture runs), and no recording holds a key.
 */
import { type EmulatedCall } from '../../tools/emulator';
import { waitFor } from '../support/harness';
import { atAgent, relayedThrough } from '../support/relay';
import { ALICE_NUMBER, api, CALLER, keyed, multimon, nextLeg, silence, token } from '../support/agents';
import { spawnedPairSuite } from '../support/spawned-pair';

const PUB = 'https://ivr.crash.test';

const pair = spawnedPairSuite();

it('an instance killed mid-capture: the call goes on through another, its capture ended there and its recording resumed', async () => {
  const { emulator, a, b: hb } = await pair.start({ publicUrl: PUB, logLevel: 'warn', build: { lostCaptureGraceMs: 300 } });

  let agentCall: EmulatedCall | undefined;
  emulator.onOutboundCall((c) => (agentCall ??= c));
  const call = await emulator.placeCall({ from: CALLER, to: ALICE_NUMBER, voiceUrl: `${PUB}/twilio/voice`, statusCallback: `${PUB}/twilio/status` });
  const caller = await call.legReady;
  const agentC = await waitFor(() => agentCall, 'the agent call', 10_000);
  const agent = await agentC.legReady;
  await waitFor(async () => (await hb.app.services.calls.get(call.sid))?.state === 'bridged', 'bridged on A', 10_000);
  expect((await hb.app.services.calls.get(call.sid))?.instanceId).toBe('instance-a');
  await waitFor(() => agentC.recordingStatus === 'in-progress', "the agent call's recording", 10_000);

  // a capture asked on B runs on A, which holds the bridge; the recording is paused for it
  const alice = token(hb, 'alice');
  const started = await api(hb, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(started.status).toBe(201);
  const lostId = (started.body as { captureId: string }).captureId;
  await waitFor(() => agentC.recordingStatus === 'paused', 'the recording paused for the capture', 10_000);
  await caller.sendAudio(keyed('4111'));

  // A dies; the load balancer sends Twilio elsewhere
  emulator.routeOrigin(PUB, hb.url);
  a.kill('SIGKILL');

  const caller2 = await nextLeg(call, caller, "the caller's stream to B", 15_000);
  const agent2 = await nextLeg(agentC, agent, "the agent's stream to B", 15_000);
  await waitFor(() => hb.app.services.bridges.get(call.sid)?.state === 'bridged', 'bridged again on B', 15_000);
  expect(caller2.url.startsWith(hb.config.mediaPublicUrl.replace(/^https/, 'wss'))).toBe(true);
  expect(agent2.url.startsWith(hb.config.mediaPublicUrl.replace(/^https/, 'wss'))).toBe(true);
  expect(call.status).toBe('in-progress');

  // the dead instance's capture is ended on B, its recording resumed
  const lost = await waitFor(
    async () => {
      const r = (await api(hb, 'GET', `/v1/calls/${call.sid}/captures/${lostId}`, alice)).body as { status: string; reason?: string };
      return r.status === 'failed' ? r : null;
    },
    'the lost capture ended',
    10_000,
  );
  expect(lost).toMatchObject({ status: 'failed', reason: 'bridge-lost' });
  await waitFor(() => agentC.recordingStatus === 'in-progress', 'the recording resumed', 10_000);
  expect(agentC.recordings).toHaveLength(1);

  // a new capture runs on B, and the card goes nowhere but the vault
  const again = await api(hb, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(again.status).toBe(201);
  await waitFor(() => agentC.recordingStatus === 'paused', 'paused for the new capture', 10_000);
  const from = caller2.sentBytes;
  await caller2.sendAudio(keyed('4111111111111111#'));
  const done = await waitFor(
    async () => {
      const r = (await api(hb, 'GET', `/v1/calls/${call.sid}/captures/${(again.body as { captureId: string }).captureId}`, alice)).body as {
        status: string;
        masked?: string;
      };
      return r.status === 'completed' ? r : null;
    },
    'the new capture completed',
    15_000,
  );
  expect(done).toMatchObject({ masked: '************1111' });
  await caller2.sendAudio(silence(1600));
  await waitFor(() => agentC.recordingStatus === 'in-progress', 'resumed after the new capture', 10_000);
  await relayedThrough(hb, caller2, agent2);
  expect(multimon(agent2.received.subarray(atAgent(hb, caller2, from)))).toBe('');

  await call.hangup();
  await agentC.ended;
  expect(multimon(agentC.recordingAudio)).toBe('');
  const trail = (await hb.app.services.audit.list(call.sid)).map((e) => e.type);
  expect(trail).toEqual(expect.arrayContaining(['bridge.resumed', 'bridge.agent-rejoining', 'capture.failed', 'capture.completed']));
  // the dead instance never said its bridge was lost: only B's take-up is in the trail
  expect(trail).not.toContain('bridge.lost');
}, 90_000);
