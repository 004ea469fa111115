/**
 * The agent socket's `capture.cancel` as CONTRACT §5 names it: `{type, callSid}` and nothing
 * else. It cancels the call's running capture and the recording resumes; with none running it
 * is answered an `error` event and the connection stays open.
 */
import { sleep, waitFor, type Harness } from '../support/harness';
import { acceptedCall, AgentSocket, api, bridgeSuite } from '../support/agents';

const suite = bridgeSuite();
let h: Harness;
let alice: string;
beforeAll(() => {
  h = suite.h;
  alice = suite.alice;
});

const recordingEntries = (callSid: string) =>
  h.emulator.timelineFor(callSid).filter((e): e is Extract<typeof e, { type: 'recording' }> => e.type === 'recording');

it('cancels the running capture for a capture.cancel without captureId; the recording resumes', async () => {
  const sock = await AgentSocket.open(h, alice);
  const { call, agentCall } = await acceptedCall(h, alice);
  sock.send({ type: 'capture.start', callSid: call.sid, name: 'card', kind: 'card-number' });
  const started = await sock.next((e) => e.type === 'capture.started' && e.callSid === call.sid, 'capture.started');
  const paused = await waitFor(() => recordingEntries(agentCall.sid).find((e) => e.status === 'paused'), 'recording paused');

  sock.send({ type: 'capture.cancel', callSid: call.sid });
  const failed = await sock.next((e) => e.type === 'capture.failed' && e.callSid === call.sid, 'capture.failed');
  expect(failed).toMatchObject({ captureId: started.captureId, reason: 'cancelled' });
  await waitFor(() => recordingEntries(agentCall.sid).some((e) => e.status === 'in-progress' && e.t > paused.t), 'recording resumed');
  expect((await api(h, 'GET', `/v1/calls/${call.sid}/captures/${started.captureId as string}`, alice)).body).toMatchObject({ status: 'cancelled' });
  expect(sock.events.filter((e) => e.type === 'error')).toEqual([]);

  // nothing runs now: an error event, as for a DELETE naming no capture of the call, and the socket stays open
  sock.send({ type: 'capture.cancel', callSid: call.sid });
  const refused = await sock.next((e) => e.type === 'error' && e.request === 'capture.cancel', 'error');
  expect(refused).toMatchObject({ callSid: call.sid, code: 'TW_ERR_CAPTURE_NOT_FOUND', message: 'capture not found' });
  expect((await api(h, 'DELETE', `/v1/calls/${call.sid}/captures/cap_none`, alice)).body).toMatchObject({ error: 'TW_ERR_CAPTURE_NOT_FOUND' });
  await sleep(50);
  expect(sock.isOpen).toBe(true);
  await call.hangup();
  await sock.next((e) => e.type === 'call.ended' && e.callSid === call.sid, 'call.ended');
  sock.close();
});
