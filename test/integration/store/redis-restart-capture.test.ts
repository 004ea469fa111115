/**
 * A bridged call's capture while its Redis (a private redis-server) is restarted empty: the call's
 * record and the capture's go, the bridge and the capture run on in the instance's memory. The
 * caller's keys reach neither the agent nor the recording, the recording runs again after them,
 * and the agent's panel, told the capture started, is told it ended, though no record of the call
 * is left to say whose it was; the service answers calls again with no restart.
 */
import fs from 'node:fs';
import { startHarness, waitFor, type Harness } from '../../support/harness';
import { PrivateRedis } from '../../support/private-redis';
import { AgentSocket, agentSide, api, keyed, makeFlowsDir, multimon, OFFER_NUMBER, placeCall, silence, token } from '../../support/agents';
import { relayedThrough } from '../../support/relay';

const CARD = '4111111111111111';
let redis: PrivateRedis;
let h: Harness;
let flowsDir: string;
beforeAll(async () => {
  redis = await PrivateRedis.start();
  flowsDir = makeFlowsDir();
  h = await startHarness({ flowsDir, env: { REDIS_URL: redis.url } });
}, 30_000);
afterAll(async () => {
  await h?.close();
  await redis?.close();
  if (flowsDir) fs.rmSync(flowsDir, { recursive: true, force: true });
});

test('Redis restarted empty during a bridged capture: no key heard or recorded, the recording resumed, the agent told the capture ended', async () => {
  const alice = token(h, 'alice');
  const sock = await AgentSocket.open(h, alice);
  try {
    const { call, caller } = await placeCall(h, OFFER_NUMBER, 'offered');
    expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(200);
    const { agentCall, agent } = await agentSide(h, call.sid);
    await caller.sendAudio(silence(8000));
    await waitFor(() => agentCall.recordingAudio.length >= 8000, 'recorded audio');
    const started = await api(h, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
    expect(started.status).toBe(201);
    const { captureId } = started.body as { captureId: string };
    await sock.next((e) => e.type === 'capture.started' && e.captureId === captureId, 'capture.started');
    const recording = () => h.emulator.timelineFor(agentCall.sid).flatMap((e) => (e.type === 'recording' ? [e.status] : []));
    await waitFor(() => recording().includes('paused'), 'the recording paused');

    await redis.stop();
    await redis.up();
    await waitFor(async () => (await fetch(`${h.url}/readyz`)).status === 200, 'the store back', 10_000);

    await caller.sendAudio(keyed(CARD + '#'));
    await relayedThrough(h, caller, agent);
    const ended = await sock.next(
      (e) => (e.type === 'capture.failed' || e.type === 'capture.completed') && e.captureId === captureId,
      'the capture’s end on the socket',
    );
    expect(ended).toMatchObject({ type: 'capture.failed', callSid: call.sid });
    await waitFor(() => recording().at(-1) === 'in-progress', 'the recording running again');
    expect(recording().slice(0, 3)).toEqual(['in-progress', 'paused', 'in-progress']);
    expect(multimon(agent.received)).toBe('');
    expect(multimon(agentCall.recordingAudio)).toBe('');
    expect(h.logs.text).not.toContain(CARD);

    // the next call is offered to the socket: the service and its subscriptions came back
    const next = await placeCall(h, OFFER_NUMBER, 'offered');
    await sock.next((e) => e.type === 'handoff.offered' && e.callSid === next.call.sid, 'the next offer');
    await next.call.hangup();
    await call.hangup();
  } finally {
    sock.close();
  }
}, 60_000);
