/**
 * Two instances behind one PUBLIC_URL (the emulator's proxy plays the load balancer, each with
 * its own media origin), sharing one emulator and one store: a call bridged on A, its caller's
 * stream taken up by B, and the captures the agent asks for on either.
 */
import fs from 'node:fs';
import type { EmulatedCall, MediaLeg } from '../../tools/emulator';
import { agentSide, ALICE_NUMBER, api, keyed, makeFlowsDir, nextLeg, placeCall, token } from './agents';
import { startHarness, waitFor, type Harness, type HarnessOptions } from './harness';

/**
 * A test file's pair on the agent flows (makeFlowsDir), or on `flows` of its own, one for the
 * whole file: started before its tests, closed with its flows after. `b` shares `a`'s emulator
 * and keys, with `bBuild` for what only B builds differently; both are read once it ran.
 */
export function instancePair(
  publicUrl: string,
  bBuild?: HarnessOptions['build'],
  flows?: HarnessOptions['flows'],
): { readonly a: Harness; readonly b: Harness } {
  const pair = {} as { a: Harness; b: Harness; flowsDir?: string };
  beforeAll(async () => {
    if (!flows) pair.flowsDir = makeFlowsDir();
    const onFlows = flows ? { flows } : { flowsDir: pair.flowsDir };
    pair.a = await startHarness({ ...onFlows, publicUrl, ownMediaUrl: true });
    pair.b = await startHarness({
      ...onFlows,
      publicUrl,
      ownMediaUrl: true,
      emulator: pair.a.emulator,
      keyPrefix: pair.a.keyPrefix,
      ...(bBuild ? { build: bBuild } : {}),
    });
  });
  afterAll(async () => {
    await pair.b?.close();
    await pair.a?.close();
    if (pair.flowsDir) fs.rmSync(pair.flowsDir, { recursive: true, force: true });
  });
  return pair;
}

/** a call to alice's flow (dialled at once, recorded), bridged on `h`, Twilio's requests for `publicUrl` routed to `h` */
export async function bridgedOn(h: Harness, publicUrl: string): Promise<{ call: EmulatedCall; caller: MediaLeg; agentCall: EmulatedCall; agent: MediaLeg }> {
  h.emulator.routeOrigin(publicUrl, h.url);
  const { call, caller } = await placeCall(h, ALICE_NUMBER, 'bridged');
  const { agentCall, agent } = await agentSide(h, call.sid);
  return { call, caller, agentCall, agent };
}

/** alice's next capture on `h`, asked for as soon as the call takes one (409 while the one before holds its lock) */
export function nextCapture(h: Harness, callSid: string, body: { name: string; kind: string }): Promise<{ status: number; body: any }> {
  return waitFor(
    async () => {
      const r = await api(h, 'POST', `/v1/calls/${callSid}/captures`, token(h, 'alice'), body);
      return r.status === 409 ? null : r;
    },
    'the next capture started',
    15_000,
  );
}

/** a resume of `recordingSid` (any of the call's, when none is named) that Twilio carried out at `from` or after */
export async function resumeCarriedOut(h: Harness, callSid: string, from: number, what: string, recordingSid = ''): Promise<void> {
  await waitFor(
    () =>
      h.emulator
        .timelineFor(callSid)
        .some(
          (e) => e.type === 'rest' && e.t >= from && e.method === 'POST' && e.path.includes(`/Recordings/${recordingSid}`) && e.params.Status === 'in-progress',
        ),
    what,
    10_000,
  );
}

/** the caller keys a card over `leg` into alice's capture on `h`, which completes; when the keys were sent (emulator time) */
export async function cardKeyed(h: Harness, leg: MediaLeg, callSid: string, captureId: string): Promise<{ keysFrom: number; keysTo: number }> {
  const keysFrom = h.emulator.now();
  await leg.sendAudio(keyed('4111111111111111#'));
  const keysTo = h.emulator.now();
  await waitFor(
    async () => (await api(h, 'GET', `/v1/calls/${callSid}/captures/${captureId}`, token(h, 'alice'))).body.status === 'completed',
    'the next capture completed',
  );
  return { keysFrom, keysTo };
}

/** the caller's stream made again (its stream to the instance before cut off), to `h`, which bridges the call again */
export async function takenUpBy(h: Harness, call: EmulatedCall, before: MediaLeg, what: string): Promise<MediaLeg> {
  const leg = await nextLeg(call, before, what);
  await waitFor(() => h.app.services.bridges.get(call.sid)?.state === 'bridged', 'bridged again', 10_000);
  return leg;
}

/** alice's capture on `h`, started once the agent call records, and running: that recording paused for it */
export async function capturePaused(
  h: Harness,
  callSid: string,
  agentCall: EmulatedCall,
  body: { name: string; kind: string },
): Promise<{ status: number; body: any }> {
  await waitFor(() => agentCall.recordingStatus === 'in-progress', "the agent call's recording");
  const capture = await api(h, 'POST', `/v1/calls/${callSid}/captures`, token(h, 'alice'), body);
  expect(capture.status).toBe(201);
  await waitFor(() => agentCall.recordingStatus === 'paused', 'paused for the capture');
  return capture;
}
