/**
 * A stop of a spawned pair's A (spawned-pair.ts) with a capture running on a call it bridges, and
 * what the stop must leave whatever SHUTDOWN_DRAIN_MS is (CONTRACT §8): the capture failed
 * `shutdown`, each recording it paused resumed before the bridge left A, the bridge lost
 * `shutdown` (not taken for a stream cut off), the record left for B, which takes the call up.
 */
import type { EmulatedCall, MediaLeg } from '../../tools/emulator';
import { appRecording, waitFor, type Harness } from './harness';
import { acceptedCall, api, keyed, nextLeg, token } from './agents';
import { logLines } from './held-on-spawned';
import type { SpawnedPair, SpawnedPairOptions } from './spawned-pair';

export interface Capturing {
  call: EmulatedCall;
  caller: MediaLeg;
  agentCall: EmulatedCall;
  /** the agent call's own recording, and another application's on it */
  recordings: string[];
  captureId: string;
}

/** a call bridged on `holder` (accepted by alice on `h`), a card capture running on it, four keys in */
export async function capturing(h: Harness, alice: string): Promise<Capturing> {
  const { call, caller, agentCall, own } = await acceptedCall(h, alice);
  const other = await appRecording(h, agentCall.sid);
  const started = await api(h, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(started.status).toBe(201);
  const { captureId } = started.body as { captureId: string };
  await caller.sendAudio(keyed('4111'));
  await waitFor(
    async () => ((await api(h, 'GET', `/v1/calls/${call.sid}/captures/${captureId}`, alice)).body as { entered: number }).entered === 4,
    'four keys entered',
    10_000,
  );
  for (const sid of [own, other]) expect(h.emulator.recordingStatuses(agentCall.sid, sid)).toEqual(['in-progress', 'paused']);
  return { call, caller, agentCall, recordings: [own, other], captureId };
}

/** A started with `drainMs`, a capture running on a call it bridges, then SIGTERM: A exits 0, and what it left is checked */
export async function stopWithCapture(pair: { start(opts: SpawnedPairOptions): Promise<SpawnedPair> }, publicUrl: string, drainMs: number): Promise<void> {
  const started = await pair.start({ publicUrl, logLevel: 'info', aEnv: { SHUTDOWN_DRAIN_MS: String(drainMs) } });
  const { emulator: em, a: child, exited, b: hb } = started;
  const alice = token(hb, 'alice');
  const live = await capturing(hb, alice);
  expect((await hb.app.services.calls.get(live.call.sid))?.instanceId).toBe('instance-a');

  // the load balancer has taken A out: what Twilio sends next reaches B
  em.routeOrigin(publicUrl, hb.url);
  child.kill('SIGTERM');
  expect(await exited).toBe(0);

  // the capture ended as a stop ends it, its recordings running again before the bridge went
  const capture = (await api(hb, 'GET', `/v1/calls/${live.call.sid}/captures/${live.captureId}`, alice)).body as Record<string, unknown>;
  expect(capture).toMatchObject({ status: 'failed', reason: 'shutdown' });
  for (const sid of live.recordings) expect(em.recordingStatuses(live.agentCall.sid, sid)).toEqual(['in-progress', 'paused', 'in-progress']);
  const trail = (await hb.app.services.audit.list(live.call.sid)).map((e) => e as unknown as { type: string; reason?: string });
  const at = (type: string) => trail.findIndex((e) => e.type === type);
  expect(trail.some((e) => e.type === 'recording.resume-failed')).toBe(false);
  expect(trail.find((e) => e.type === 'capture.failed')).toMatchObject({ reason: 'shutdown' });
  expect(trail.filter((e) => e.type === 'bridge.lost')).toEqual([expect.objectContaining({ reason: 'shutdown' })]);
  // resumed and ended here before the bridge left: not after the call was taken up elsewhere
  const resumedAt = trail.flatMap((e, i) => (e.type === 'recording.resumed' ? [i] : []));
  expect(resumedAt).toHaveLength(2);
  expect(Math.max(...resumedAt)).toBeLessThan(at('bridge.lost'));
  expect(at('capture.failed')).toBeLessThan(at('bridge.lost'));
  expect(at('bridge.ended')).toBe(-1);
  // nothing on A took its own streams' closes for streams cut off
  const logged = logLines(started.output);
  expect(logged.filter((l) => l.msg === "agent's stream cut off: caller on hold, calling the agent's call back in")).toEqual([]);

  // the record left as it was, for B: the call goes on there
  expect((await hb.app.services.calls.get(live.call.sid))?.state).not.toBe('ended');
  await nextLeg(live.call, live.caller, "the caller's stream to B", 15_000);
  await waitFor(() => hb.app.services.bridges.get(live.call.sid)?.state === 'bridged', 'bridged again on B', 15_000);
  expect(live.call.status).toBe('in-progress');
  await live.call.hangup();
  await live.agentCall.ended;
}
