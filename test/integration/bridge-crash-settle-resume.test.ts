/**
 * A capture's instance dies (SIGKILL); the instance that took the call up settles the capture
 * (captures/lost.ts) and resumes its recording, which Twilio answers slowly; by then the call's
 * bridge has moved on to a third instance, where the agent starts the next capture. That capture
 * must not pause before the settler's resume has landed: the settler's recording controller,
 * which orders the requests it sends itself, knows nothing of the third instance's pause, so
 * what keeps them in order is the capture lock, which the settler lets go only once its resume is
 * over (and until when it may still land is on the call). Released before the resume, the lock let
 * the next capture pause first, and the resume then ran the recording while the caller keyed.
 */
import { type EmulatedCall } from '../../tools/emulator';
import { waitFor } from '../support/harness';
import { ALICE_NUMBER, api, CALLER, keyed, nextLeg, token } from '../support/agents';
import { spawnedPairSuite } from '../support/spawned-pair';

const PUB = 'https://ivr.crash-settle.test';
/** how long Twilio takes to answer the settler's resume (within the resume's 3 s bound: answered, carried out then) */
const SLOW_RESUME_MS = 2_500;

const pair = spawnedPairSuite();

it("a lost capture's resume answered slowly on the instance that settles it does not undo the next capture's pause on a third instance", async () => {
  // B settles what it took up a while after: once the bridge has moved on to C; C's own settling never comes in this test
  const {
    emulator,
    a,
    b: hb,
    c,
  } = await pair.start({ publicUrl: PUB, logLevel: 'warn', build: { lostCaptureGraceMs: 4_000 }, c: { lostCaptureGraceMs: 600_000 } });
  const hc = c!;

  let agentCall: EmulatedCall | undefined;
  emulator.onOutboundCall((call) => (agentCall ??= call));
  const call = await emulator.placeCall({ from: CALLER, to: ALICE_NUMBER, voiceUrl: `${PUB}/twilio/voice`, statusCallback: `${PUB}/twilio/status` });
  const caller = await call.legReady;
  const agentC = await waitFor(() => agentCall, 'the agent call', 10_000);
  const agent = await agentC.legReady;
  await waitFor(async () => (await hb.app.services.calls.get(call.sid))?.state === 'bridged', 'bridged on A', 10_000);
  await waitFor(() => agentC.recordingStatus === 'in-progress', "the agent call's recording", 10_000);

  // a capture runs on A, the recording paused for it; then A dies, and B takes the call up
  const alice = token(hb, 'alice');
  const lost = await api(hb, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(lost.status).toBe(201);
  await waitFor(() => agentC.recordingStatus === 'paused', 'the recording paused for the capture', 10_000);
  emulator.routeOrigin(PUB, hb.url);
  a.kill('SIGKILL');
  const caller2 = await nextLeg(call, caller, "the caller's stream to B", 15_000);
  const agent2 = await nextLeg(agentC, agent, "the agent's stream to B", 15_000);
  await waitFor(() => hb.app.services.bridges.get(call.sid)?.state === 'bridged', 'bridged on B', 15_000);

  // B's stream to the caller cut off (B alive): C takes the call up and holds the bridge
  emulator.routeOrigin(PUB, hc.url);
  await caller2.drop();
  await nextLeg(call, caller2, "the caller's stream to C", 15_000);
  await nextLeg(agentC, agent2, "the agent's stream to C", 15_000);
  await waitFor(() => hc.app.services.bridges.get(call.sid)?.state === 'bridged', 'bridged on C', 15_000);
  const onC = emulator.now();
  const caller3 = call.leg!;
  // the lost capture still holds the call: nothing has settled it yet
  expect((await hb.app.services.calls.get(call.sid))?.capture).toMatchObject({ id: lost.body.captureId, status: 'capturing' });

  // B's resume as it settles the lost capture, answered late
  emulator.faults.recordingResume = { delayMs: SLOW_RESUME_MS, times: 1 };
  // the agent starts the next capture as soon as the call takes one (409 while the lost one holds it); it runs on C
  const next = await waitFor(
    async () => {
      const r = await api(hc, 'POST', `/v1/calls/${call.sid}/captures`, token(hc, 'alice'), { name: 'card', kind: 'card-number' });
      if (r.status === 409) return null;
      return r;
    },
    'the next capture started',
    20_000,
  );
  expect(next.status).toBe(201);
  // B's resume, answered: Twilio has carried it out
  const resumes = () =>
    emulator
      .timelineFor(agentC.sid)
      .filter((e) => e.type === 'rest' && e.t > onC && e.method === 'POST' && /\/Recordings\//.test(e.path) && e.params.Status === 'in-progress');
  const settled = await waitFor(() => resumes()[0], "B's resume answered", 10_000);
  // sent by B after C held the bridge: the case this test is about
  expect(settled.t - SLOW_RESUME_MS).toBeGreaterThan(onC);
  expect(await hb.app.services.calls.get(call.sid)).toMatchObject({ capture: { id: next.body.captureId, status: 'capturing' } });

  // the caller keys the card into the next capture: the recording is paused throughout
  const keysFrom = emulator.now();
  await caller3.sendAudio(keyed('4111111111111111#'));
  const keysTo = emulator.now();
  await waitFor(
    async () => (await api(hc, 'GET', `/v1/calls/${call.sid}/captures/${next.body.captureId}`, token(hc, 'alice'))).body.status === 'completed',
    'the next capture completed',
    15_000,
  );
  expect(emulator.recordingStatusAt(agentC.sid, keysFrom)).toBe('paused');
  expect(emulator.timelineFor(agentC.sid).filter((e) => e.type === 'recording' && e.t >= keysFrom && e.t <= keysTo)).toEqual([]);
  const lostEnd = (await api(hc, 'GET', `/v1/calls/${call.sid}/captures/${lost.body.captureId}`, token(hc, 'alice'))).body as {
    status: string;
    reason?: string;
  };
  expect(lostEnd).toMatchObject({ status: 'failed', reason: 'bridge-lost' });

  await call.hangup();
  await agentC.ended;
}, 120_000);
