/**
 * Issue 10's promise, end to end on the Twilio emulator (which refuses recordings on a ringing
 * call with 21220 and records what a bidirectional stream plays into a call): in a bridged call
 * the caller keys a card number outside any capture, keys into a capture, and keys again right
 * after that capture ended on its idle timer; no recording of the caller's call or of the
 * agent's call holds a key, by multimon-ng or by the test decoder, on any channel, while the
 * agent's recording still holds the caller's speech.
 */
import fs from 'node:fs';
import { concat, multimon, power, silence, speech } from '../support/audio';
import { wideDecode } from '../support/decoders';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { agentSide, api, captureEnded, keyed, makeFlowsDir, OFFER_NUMBER, placeCall, token } from '../support/agents';
import { atAgent, relayedThrough } from '../support/relay';
import { MULAW_SILENCE } from '../../tools/emulator';

const CARD = '4111111111111111';

let h: Harness;
let flowsDir: string;

beforeAll(async () => {
  // both decoders are proven on the very keys the caller presses
  expect(multimon(keyed(`${CARD}#`))).toBe(`${CARD}#`);
  expect(wideDecode(keyed(`${CARD}#`))).toBe(`${CARD}#`);
  flowsDir = makeFlowsDir();
  h = await startHarness({ flowsDir });
});

afterAll(async () => {
  await h?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

it('no recording of either call holds a key: outside a capture, inside one, and right after one ended on its timer', async () => {
  const alice = token(h, 'alice');
  const { call, caller } = await placeCall(h, OFFER_NUMBER, 'offered');
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(200);
  const { agentCall, agent } = await agentSide(h, call.sid);
  // the agent's call records the bridge: dual channel, started by <Start><Recording> in its TwiML
  await waitFor(() => agentCall.recordings.length === 1, "the agent's recording");
  expect(agentCall.recordings[0].toJson(h.config.twilio.accountSid)).toMatchObject({ source: 'StartCallRecordingTwiML', channels: 2 });

  // 1. the caller talks, keys the card while talking to the agent, talks again
  const talk = speech(2);
  const talkFrom = caller.sentBytes;
  await caller.sendAudio(concat([talk, keyed(`${CARD}#`), speech(1, 9)]));

  // 2. a secure capture of the security code: two keys, then nothing, so it ends on its idle timer
  const started = await api(h, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
  expect(started.status).toBe(201);
  const { captureId } = started.body as { captureId: string };
  await caller.sendAudio(keyed('73'));
  const ended = await captureEnded(h, alice, call.sid, captureId, 'the capture to end on its idle timer', 15_000);
  expect(ended).toMatchObject({ status: 'failed', valid: false, masked: '**' });

  // 3. right after it ended: more keys, then speech
  await caller.sendAudio(concat([keyed('230'), speech(1, 12), silence(1600)]));
  await relayedThrough(h, caller, agent);

  // the recording SIDs of both legs are on the call
  const view = (await api(h, 'GET', `/v1/calls/${call.sid}`, token(h, 'sue', 'supervisor'))).body as { recordings: { leg: string; sid?: string }[] };
  expect(view.recordings).toEqual(expect.arrayContaining([expect.objectContaining({ leg: 'agent', sid: agentCall.recordings[0].sid })]));

  await call.hangup();
  await waitFor(() => agentCall.status === 'completed', "the agent's call to end");
  await waitFor(() => agentCall.recordings.every((r) => !r.active), "the agent's recording to complete");

  // every recording of either call, every channel and the mix: not one key
  const recordings = [...call.recordings, ...agentCall.recordings];
  expect(recordings.length).toBeGreaterThanOrEqual(1);
  for (const rec of recordings) {
    for (const audio of [...rec.channels(), rec.mixed]) {
      expect(multimon(audio)).toBe('');
      expect(wideDecode(audio)).toBe('');
    }
  }
  // the caller's own call was never recorded (a bridge flow starts no recording on it)
  expect(call.recordings).toEqual([]);

  // the agent's recording still holds the caller's speech, byte for byte, and flat tones where keys were
  const [agentVoice, heard] = agentCall.recordings[0].channels();
  // the agent said nothing in this test: their channel holds the silence of Twilio's cadence, nothing else
  expect(agentVoice.every((x) => x === MULAW_SILENCE)).toBe(true);
  // the speech reaches the agent's recording delayed by the look-ahead, bytes unchanged but where
  // the masker took a sound for a key (DESIGN D2: at most 0.1% of speech samples); the recording
  // started before the agent's stream, so it holds what the agent heard from its first byte
  const start = Buffer.from(heard).indexOf(Buffer.from(talk.subarray(8000, 8400))) - 8000;
  expect(start).toBe(atAgent(h, caller, talkFrom));
  let same = 0;
  for (let i = 0; i < talk.length; i++) if (heard[start + i] === talk[i]) same++;
  expect(same / talk.length).toBeGreaterThan(0.99);
  // where the card was keyed the agent's recording holds the flat tone, not silence or a key
  const keyedAt = start + talk.length;
  expect(power(heard, keyedAt + 320, 400, 2000)).toBeGreaterThan(1e5);

  // the audit trail names both recordings, and the capture's pause and resume on the agent's
  const audit = (await h.app.services.audit.verify(call.sid)).entries.map((e) => e as unknown as Record<string, unknown>);
  expect(audit.filter((e) => e.type === 'recording.status' && e.leg === 'agent').map((e) => e.recordingSid)).toContain(agentCall.recordings[0].sid);
  expect(audit.map((e) => e.type)).toEqual(expect.arrayContaining(['recording.paused', 'recording.resumed', 'capture.failed']));
}, 60_000);
