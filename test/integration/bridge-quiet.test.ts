/**
 * A quiet bridge is not an idle stream: Twilio sends a `media` message every 20 ms for the life
 * of a stream, silence when nobody speaks (the emulator's cadence, tools/emulator/media-client.ts),
 * so a caller and an agent who say nothing for longer than the service's idle timeout
 * (media/stream.ts, shortened here) keep their bridge, and a capture begun before the quiet
 * spell ends with the keys typed after it.
 */
import fs from 'node:fs';
import { sleep, startHarness, type Harness } from '../support/harness';
import { expectNoStreamErrors } from '../support/streams';
import { acceptedCall, api, captureEnded, keyed, makeFlowsDir, multimon, token } from '../support/agents';

/** the service's idle timeout for this file: 30 s in production, a few frames' worth of quiet is plenty to prove the point */
const IDLE_TIMEOUT_MS = 400;
/** how long both parties say nothing: several idle timeouts */
const QUIET_MS = 4 * IDLE_TIMEOUT_MS;

let h: Harness;
let flowsDir: string;
let alice: string;

beforeAll(async () => {
  flowsDir = makeFlowsDir();
  // Twilio's cadence (the emulator's default): every leg sends a frame each 20 ms, silence when its party says nothing
  h = await startHarness({ flowsDir, build: { mediaIdleTimeoutMs: IDLE_TIMEOUT_MS } });
  alice = token(h, 'alice');
});
// no message the service sent on any stream is one Twilio refuses (31924)
afterEach(() => expectNoStreamErrors(h.emulator));
afterAll(async () => {
  await h?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

const idleCloses = (): number => h.logs.lines.filter((l) => l.includes('media stream idle: closing')).length;

test('a bridge nobody speaks on for longer than the idle timeout stays bridged, on the same two streams', async () => {
  const { call, caller, agentCall, agent } = await acceptedCall(h, alice);
  const idleBefore = idleCloses();
  await sleep(QUIET_MS);
  expect(idleCloses()).toBe(idleBefore);
  expect(caller.isOpen).toBe(true);
  expect(agent.isOpen).toBe(true);
  // never re-bridged: each call still has its one stream
  expect(call.legs).toEqual([caller]);
  expect(agentCall.legs).toEqual([agent]);
  expect((await h.app.services.calls.get(call.sid))?.state).toBe('bridged');
  expect(h.app.services.bridges.get(call.sid)).toBeDefined();
  // the caller's silence reached the agent all along: at least half the quiet spell of it
  expect(agent.received.length).toBeGreaterThan((QUIET_MS / 2) * 8);
  await call.hangup();
  await agentCall.ended;
});

test('a capture begun before a quiet spell longer than the idle timeout takes the keys typed after it', async () => {
  const { call, caller, agentCall, agent } = await acceptedCall(h, alice);
  const started = await api(h, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
  expect(started.status).toBe(201);
  const captureId = (started.body as { captureId: string }).captureId;
  await sleep(QUIET_MS);
  await caller.sendAudio(keyed('123#'));
  const ended = await captureEnded(h, alice, call.sid, captureId);
  expect(ended).toMatchObject({ status: 'completed' });
  expect(call.legs).toEqual([caller]);
  expect(multimon(agent.received)).toBe('');
  await call.hangup();
  await agentCall.ended;
});
