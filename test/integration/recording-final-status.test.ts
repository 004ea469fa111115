/**
 * A recording's end as Twilio reports it, shown as it is: `completed` (the call's view says
 * `stopped`), `absent` (Twilio kept no file: the recording was too short, 16101, or silent,
 * 16102) and `failed` (Voice Recording Encryption could not encrypt it). Each callback is
 * answered 204, audited, and logged once at info, never as an error; the call's view
 * (`GET /v1/calls/:callSid`) shows the final status, under `recording` and `recordings`.
 * The emulator ends a recording that recorded nothing `absent`, as Twilio ends one too short
 * to keep: here a recorded flow whose only document starts the recording and dials at once.
 */
import { api, token } from '../support/agents';
import { ACCOUNT_SID, startHarness, waitFor, type Harness } from '../support/harness';

const DIAL_ONLY_NUMBER = '+15005550041';
const SAID_NUMBER = '+15005550042';
const LIVE_NUMBER = '+15005550043';
const AGENT_LINE = '+15005550099';
const MENU_PROMPT = 'Press 1, then hash.';

let h: Harness;

beforeAll(async () => {
  const dial = `handoff:\n  mode: dial\n  to: "${AGENT_LINE}"\n`;
  h = await startHarness({
    flows: {
      'dial-only': `id: dial-only\nnumbers: ["${DIAL_ONLY_NUMBER}"]\nrecord: true\n${dial}`,
      said: `id: said\nnumbers: ["${SAID_NUMBER}"]\nrecord: true\nsteps:\n  - say: "Thanks for calling."\n${dial}`,
      live: `id: live\nnumbers: ["${LIVE_NUMBER}"]\nrecord: true\nsteps:\n  - collect: menu\n    kind: digits\n    sensitive: false\n    minLength: 1\n    maxLength: 1\n    prompt: "${MENU_PROMPT}"\n${dial}`,
    },
  });
});

afterAll(async () => {
  await h?.close();
});

interface CallView {
  recording: { status: string };
  recordings: { leg: string; sid?: string; status: string }[];
}

interface LogLine {
  level: number;
  msg: string;
  callSid?: string;
  recordingStatus?: string;
  twilioError?: string;
}

const view = async (callSid: string): Promise<CallView> => (await api(h, 'GET', `/v1/calls/${callSid}`, token(h, 'sue', 'supervisor'))).body as CallView;
const logsOf = (callSid: string): LogLine[] => h.logs.lines.map((l) => JSON.parse(l) as LogLine).filter((l) => l.callSid === callSid);
const recordingAudit = async (callSid: string) => (await h.app.services.audit.list(callSid)).filter((e) => e.type === 'recording.status');

/** a call to `to` whose recording ended (or, with `live`, whose recording began and which waits at its menu) */
async function recordedCall(to: string): Promise<{ callSid: string; recordingSid: string }> {
  const c = await h.emulator.placeCall({ from: '+15550004444', to, voiceUrl: h.voiceUrl, onGather: () => new Promise<string>(() => undefined) });
  const recordingSid = await waitFor(() => c.recordings[0]?.sid, 'the recording');
  await waitFor(async () => (await view(c.sid)).recordings[0]?.sid === recordingSid || null, 'the recording named on the call');
  return { callSid: c.sid, recordingSid };
}

test('a recording that recorded nothing: Twilio reports it absent (16101), the call shows absent, audited and logged at info', async () => {
  const { callSid, recordingSid } = await recordedCall(DIAL_ONLY_NUMBER);
  const shown = await waitFor(async () => ((await view(callSid)).recording.status === 'absent' ? view(callSid) : null), 'the absent recording');
  expect(shown.recordings).toEqual([{ leg: 'caller', sid: recordingSid, status: 'absent' }]);
  // Twilio's callback as the service got it: answered 204
  const callbacks = h.emulator.timelineFor(callSid).filter((e) => e.type === 'webhook' && e.purpose === 'recording-status-callback');
  expect(callbacks.map((e) => (e.type === 'webhook' ? e.status : 0))).toEqual([204, 204]);
  expect((await recordingAudit(callSid)).map((e) => e.twilioStatus)).toEqual(['in-progress', 'absent']);
  const lines = logsOf(callSid);
  expect(lines.filter((l) => l.msg === 'recording status')).toEqual([
    expect.objectContaining({ level: 30, recordingStatus: 'in-progress' }),
    expect.objectContaining({ level: 30, recordingStatus: 'absent', twilioError: '16101' }),
  ]);
  expect(lines.filter((l) => l.level >= 40)).toEqual([]);
});

test('a recording that heard the call: completed, shown stopped', async () => {
  const { callSid, recordingSid } = await recordedCall(SAID_NUMBER);
  await waitFor(async () => (await recordingAudit(callSid)).length === 2 || null, 'the final callback');
  expect((await recordingAudit(callSid)).map((e) => e.twilioStatus)).toEqual(['in-progress', 'completed']);
  expect((await view(callSid)).recordings).toEqual([{ leg: 'caller', sid: recordingSid, status: 'stopped' }]);
});

test('a recording Twilio could not encrypt: failed, shown failed; a status the service does not know changes nothing', async () => {
  const { callSid, recordingSid } = await recordedCall(LIVE_NUMBER);
  expect((await view(callSid)).recording.status).toBe('in-progress');
  const params = (status: string) => ({ AccountSid: ACCOUNT_SID, CallSid: callSid, RecordingSid: recordingSid, RecordingStatus: status, ErrorCode: '0' });
  const url = `${h.publicUrl}/twilio/recording-status`;
  expect((await h.emulator.signedPost(url, params('processing'))).status).toBe(204);
  expect((await view(callSid)).recording.status).toBe('in-progress');
  expect((await h.emulator.signedPost(url, params('failed'))).status).toBe(204);
  const shown = await view(callSid);
  expect(shown.recording.status).toBe('failed');
  expect(shown.recordings).toEqual([{ leg: 'caller', sid: recordingSid, status: 'failed' }]);
  expect((await recordingAudit(callSid)).map((e) => e.twilioStatus)).toEqual(['in-progress', 'processing', 'failed']);
  expect(logsOf(callSid).filter((l) => l.level >= 40)).toEqual([]);
});
