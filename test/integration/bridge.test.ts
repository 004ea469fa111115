/**
 * Bridge mode end to end: the real app on a real port with Redis, the Twilio emulator placing the
 * caller's call and answering the agent's, real Media Streams WebSockets. The agent's audio is
 * judged by an independent decoder (multimon-ng, via sox), the decoder being proven on the
 * caller's own audio in the same test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import twilio from 'twilio';
import { connectStream, StreamRefusedError, type EmulatedCall, type MediaLeg } from '../../tools/emulator';
import { concat, keyTone, multimon, power, silence, speech } from '../support/audio';
import { ACCOUNT_SID, AUTH_TOKEN, startHarness, sleep, waitFor, type Harness } from '../support/harness';
import { agentRelayedThrough, atAgent, atCaller, bridgedAt, relayedThrough } from '../support/relay';
import { expectNoStreamErrors } from '../support/streams';

const FS = 8000;
const FRAME = 160;
const LOOKAHEAD_MS = 40;
const L = (LOOKAHEAD_MS * FS) / 1000;
const KEYS = '0123456789*#ABCD';
const LOW = [697, 770, 852, 941];
const HIGH = [1209, 1336, 1477, 1633];
const BRIDGE_NUMBER = '+15005550123';
const OFFER_NUMBER = '+15005550124';

// ---- harness ----

let h: Harness;
let flowsDir: string;

beforeAll(async () => {
  multimon(silence(160)); // fails now, clearly, when the decoder is missing
  flowsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-flows-'));
  fs.writeFileSync(
    path.join(flowsDir, 'bridge.yaml'),
    `id: bridge-test\nnumbers: ["${BRIDGE_NUMBER}"]\nsteps: []\nhandoff:\n  mode: bridge\n  to: "client:alice"\n`,
  );
  fs.writeFileSync(path.join(flowsDir, 'offer.yaml'), `id: offer-test\nnumbers: ["${OFFER_NUMBER}"]\nsteps: []\nhandoff:\n  mode: bridge\n`);
  h = await startHarness({ flowsDir, env: { MASK_LOOKAHEAD_MS: String(LOOKAHEAD_MS) } });
});

// no message the service sent on any stream is one Twilio refuses (31924)
afterEach(() => expectNoStreamErrors(h.emulator));

afterAll(async () => {
  await h?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

async function metricsText(): Promise<string> {
  const res = await fetch(h.metricsUrl);
  return res.text();
}

function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

interface Bridged {
  call: EmulatedCall;
  agentCall: EmulatedCall;
  caller: MediaLeg;
  agent: MediaLeg;
}

async function placeBridgedCall(): Promise<Bridged> {
  let agentCall: EmulatedCall | undefined;
  h.emulator.onOutboundCall((c) => {
    agentCall ??= c;
  });
  const call = await h.emulator.placeCall({ from: '+15551234567', to: BRIDGE_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  const caller = await call.legReady;
  const outbound = await waitFor(() => agentCall, 'the agent call');
  const agent = await outbound.legReady;
  await waitFor(() => h.app.services.bridges.get(call.sid)?.state === 'bridged', 'bridged');
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'bridged', 'session bridged');
  // the caller has heard the bridge's `clear`: where its audio lands at the agent is known (support/relay.ts)
  await waitFor(() => bridgedAt(caller) !== undefined, "the caller's clear");
  return { call, agentCall: outbound, caller, agent };
}

// ---- handshake ----

describe('media stream handshake', () => {
  const sign = (url: string) => twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, {});
  /** a token as its TwiML's atomic write stores it, for a call that has no record here (StreamTokens.issue would withdraw it) */
  async function stored(callSid: string): Promise<{ token: string; url: string }> {
    const { token, url, ops } = h.app.services.tokens.prepare({ callSid, leg: 'caller', instanceId: h.config.instanceId });
    await h.app.services.store.multi(ops);
    return { token, url };
  }

  async function refusal(url: string, signature: string | null): Promise<number> {
    try {
      const leg = await connectStream(url, { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, signature, reach: h.emulator.reach });
      await leg.stop();
      return 101;
    } catch (e) {
      if (e instanceof StreamRefusedError) return e.status;
      throw e;
    }
  }

  it('refuses an unsigned (400) or wrongly signed (403) handshake without taking the token', async () => {
    const { token, url } = await stored('CA' + 'f'.repeat(32));
    expect(url).toBe(`${h.publicUrl.replace(/^https/, 'wss')}/media/${token}`);
    expect(await refusal(url, null)).toBe(400);
    expect(await refusal(url, 'bm90IGEgc2lnbmF0dXJl')).toBe(403);
    // signed for another URL
    expect(await refusal(url, sign(url + 'x'))).toBe(403);
    expect(await h.app.services.tokens.peek(token)).not.toBeNull();
    const text = await metricsText();
    expect(metricValue(text, 'tonewall_streams_refused_total', '{reason="signature-missing"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'tonewall_streams_refused_total', '{reason="signature-invalid"}')).toBeGreaterThanOrEqual(2);
    expect(h.app.services.bridges.size).toBe(0);
  });

  it('refuses an unknown token and a reused one', async () => {
    const unknown = `${h.publicUrl.replace(/^https/, 'wss')}/media/${'x'.repeat(32)}`;
    expect(await refusal(unknown, sign(unknown))).toBe(404);
    const { url } = await stored('CA' + 'e'.repeat(32));
    expect(await refusal(url, sign(url))).toBe(101);
    expect(await refusal(url, sign(url))).toBe(404);
    await waitFor(() => h.app.services.bridges.size === 0, 'no bridge left');
  });
});

// ---- bridged call ----

describe('bridged call', () => {
  it('dials the agent, relays both ways, and the caller hears the hold sound before', async () => {
    const b = await placeBridgedCall();
    const create = h.emulator.timeline.find((e) => e.type === 'rest' && e.method === 'POST' && /\/Calls\.json$/.test(e.path));
    expect(create && create.type === 'rest' && create.params.To).toBe('client:alice');
    expect(create && create.type === 'rest' && String(create.params.Twiml)).toMatch(
      /<Connect><Stream url="wss:\/\/i\d+\.tonewall\.test\/media\/[A-Za-z0-9_-]+"><Parameter name="leg" value="agent"\/><\/Stream><\/Connect><Redirect method="POST">[^<]+\/twilio\/bridge-lost\/1\?leg=agent&amp;call=CA[0-9a-f]{32}<\/Redirect>/,
    );
    const session = await h.app.services.calls.get(b.call.sid);
    expect(session?.state).toBe('bridged');
    expect(session?.handoff.agentCallSid).toBe(b.agentCall.sid);

    // agent → caller: unchanged
    const fromAgent = speech(1);
    const at = atCaller(b.caller, b.agent.sentBytes);
    await b.agent.sendAudio(fromAgent);
    await agentRelayedThrough(b.caller, b.agent);
    const got = b.caller.received;
    expect(Buffer.from(got.subarray(at, at + fromAgent.length)).equals(Buffer.from(fromAgent))).toBe(true);

    await b.call.hangup();
    await waitFor(() => !h.app.services.bridges.get(b.call.sid), 'bridge gone');
  });

  it('masks every key (in-band, events, both) with the same flat tone; speech arrives byte-exact, delayed by the look-ahead', async () => {
    const b = await placeBridgedCall();
    // where the test's audio begins in what the agent hears: the caller's bytes before it (the
    // emulator's cadence silence) were relayed too, and all of them after the bridge
    const origin = atAgent(h, b.caller, b.caller.sentBytes) - L;
    expect(origin).toBeGreaterThanOrEqual(0);
    const TONE = 480; // 60 ms
    const GAP = 800; // 100 ms
    const KEY_SPAN = TONE + GAP; // 8 frames: every key starts at the same phase of the flat tone
    const sent: Uint8Array[] = [];
    const send = async (bytes: Uint8Array) => {
      expect(bytes.length % FRAME).toBe(0);
      sent.push(bytes);
      await b.caller.sendAudio(bytes);
    };
    const lead = silence(1600);
    await send(lead);

    // 1. in-band
    const inbandAt = 1600;
    for (const k of KEYS) await send(concat([keyTone(k, TONE), silence(GAP)]));
    // 2. dtmf events only, each after 200 ms of silence
    const eventsAt = inbandAt + KEYS.length * KEY_SPAN;
    for (const k of KEYS) {
      await send(silence(1600));
      b.caller.sendDtmf(k);
    }
    await send(silence(1600));
    // 3. both: the tone, then its event
    const bothAt = eventsAt + KEYS.length * 1600 + 1600;
    for (const k of KEYS) {
      await send(keyTone(k, TONE));
      b.caller.sendDtmf(k);
      await send(silence(GAP + 800));
    }
    // 4. speech, then enough silence to flush the look-ahead
    const speechAt = bothAt + KEYS.length * (TONE + GAP + 800);
    const talk = speech(3);
    await send(talk);
    await send(silence(1600));
    const S = concat(sent);
    await relayedThrough(h, b.caller, b.agent);
    // R[L + i] is what the agent heard for byte i of S
    const R = b.agent.received.subarray(origin);

    // the decoder is proven on what the caller sent: 16 in-band keys, then 16 more (both)
    expect(multimon(S)).toBe(KEYS + KEYS);
    // and hears nothing in what the agent got
    expect(multimon(R)).toBe('');

    // exactly the look-ahead of delay: the first L bytes are the pipeline's initial silence
    expect(R.subarray(0, L).every((x) => x === 0xff)).toBe(true);
    expect(Buffer.from(R.subarray(L + speechAt, L + speechAt + talk.length)).equals(Buffer.from(talk))).toBe(true);
    // outside the keys everything is the input, delayed
    expect(Buffer.from(R.subarray(L, L + inbandAt - 240)).equals(Buffer.from(S.subarray(0, inbandAt - 240)))).toBe(true);

    // every in-band key is masked by the same bytes from before its onset to past its end (same
    // timing → byte-identical stretch; how far the fades reach beyond that is the masker's choice)
    const win = (at: number) => Buffer.from(R.subarray(L + at - 32, L + at + TONE + 40));
    const inband = KEYS.split('').map((_, i) => win(inbandAt + i * KEY_SPAN));
    for (const w of inband) expect(w.equals(inband[0])).toBe(true);
    const both = KEYS.split('').map((_, i) => win(bothAt + i * (TONE + GAP + 800)));
    for (const w of both) expect(w.equals(inband[0])).toBe(true);
    // and that stretch is the flat tone, not a key: 2000 Hz dominates every DTMF frequency
    const mid = L + inbandAt + 80;
    const flat = power(R, mid, 320, 2000);
    for (const f of [...LOW, ...HIGH]) expect(power(R, mid, 320, f)).toBeLessThan(flat / 100);

    // an event with no tone becomes a flat-tone burst (100 ms) at its position: the same burst for every key
    const bursts = KEYS.split('').map((_, i) => Buffer.from(R.subarray(L + eventsAt + (i + 1) * 1600 - 80, L + eventsAt + (i + 1) * 1600 + 880)));
    for (const w of bursts) expect(w.equals(bursts[0])).toBe(true);
    const eventMid = L + eventsAt + 1600 + 400;
    expect(power(R, eventMid, 320, 2000)).toBeGreaterThan(1e5);

    const text = await metricsText();
    expect(metricValue(text, 'tonewall_tones_masked_total')).toBeGreaterThanOrEqual(48);
    expect(metricValue(text, 'tonewall_dtmf_events_total')).toBeGreaterThanOrEqual(32);
    await b.call.hangup();
    await waitFor(() => !h.app.services.bridges.get(b.call.sid), 'bridge gone');
  });

  it('drops and counts malformed messages and keeps relaying', async () => {
    const b = await placeBridgedCall();
    const before = await metricsText();
    const frame = Buffer.from(speech(1).subarray(0, FRAME));
    const media = (seq: string, payload: string) =>
      JSON.stringify({ event: 'media', sequenceNumber: seq, streamSid: b.caller.streamSid, media: { track: 'inbound', chunk: '1', timestamp: '0', payload } });
    b.caller.sendRaw('{not json');
    b.caller.sendRaw(media('100000', '!!!not base64!!!'));
    b.caller.sendRaw(media('100001', Buffer.alloc(100).toString('base64')));
    b.caller.sendRaw(JSON.stringify({ event: 'party', streamSid: b.caller.streamSid }));
    b.caller.sendRaw(Buffer.from(JSON.stringify({ event: 'media', payload: 'A'.repeat(1024 * 1024) })).toString());
    b.caller.sendRaw(media('1', frame.toString('base64'))); // out of order: `start` was 1
    await b.caller.sendAudio(silence(FRAME * 10));
    await relayedThrough(h, b.caller, b.agent);
    expect(b.caller.isOpen && b.agent.isOpen).toBe(true);
    const after = await metricsText();
    const delta = (reason: string) =>
      metricValue(after, 'tonewall_frames_dropped_total', `{reason="${reason}"}`) -
      metricValue(before, 'tonewall_frames_dropped_total', `{reason="${reason}"}`);
    expect(delta('json')).toBe(1);
    expect(delta('base64')).toBe(1);
    expect(delta('frame-size')).toBe(1);
    expect(delta('unknown-event')).toBe(1);
    expect(delta('oversized')).toBe(1);
    expect(delta('sequence')).toBe(1);
    const health = await fetch(`${h.url}/healthz`);
    expect(health.status).toBe(200);
    await b.call.hangup();
    await waitFor(() => !h.app.services.bridges.get(b.call.sid), 'bridge gone');
  });

  it("drops and counts what is not the stream's own (a stop or media naming another stream, a second start), on either leg: the bridge goes on, its sequence untouched", async () => {
    const b = await placeBridgedCall();
    const before = await metricsText();
    // numbered past anything the legs will send: were a number taken, every later message would be dropped as late
    const other = 'MZ' + 'f'.repeat(32);
    const stop = (seq: string) => JSON.stringify({ event: 'stop', sequenceNumber: seq, streamSid: other, stop: { accountSid: ACCOUNT_SID } });
    const frame = Buffer.from(speech(1).subarray(0, FRAME)).toString('base64');
    b.agent.sendRaw(stop('900000'));
    b.caller.sendRaw(stop('900000'));
    b.caller.sendRaw(
      JSON.stringify({ event: 'media', sequenceNumber: '900001', streamSid: other, media: { track: 'inbound', chunk: '1', timestamp: '0', payload: frame } }),
    );
    b.agent.sendRaw(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '900002',
        streamSid: other,
        start: { accountSid: ACCOUNT_SID, streamSid: other, callSid: b.call.sid, customParameters: {} },
      }),
    );
    await Promise.all([b.caller.sendAudio(silence(FRAME * 10)), b.agent.sendAudio(silence(FRAME * 10))]);
    await Promise.all([relayedThrough(h, b.caller, b.agent), agentRelayedThrough(b.caller, b.agent)]);
    expect(b.caller.isOpen && b.agent.isOpen).toBe(true);
    expect(h.app.services.bridges.get(b.call.sid)?.state).toBe('bridged');
    expect(b.call.status).toBe('in-progress');
    expect(b.agentCall.status).toBe('in-progress');
    const after = await metricsText();
    const delta = (reason: string) =>
      metricValue(after, 'tonewall_frames_dropped_total', `{reason="${reason}"}`) -
      metricValue(before, 'tonewall_frames_dropped_total', `{reason="${reason}"}`);
    expect(delta('stream-sid')).toBe(3);
    expect(delta('schema')).toBe(1);
    expect(delta('sequence')).toBe(0);
    await b.call.hangup();
    await waitFor(() => !h.app.services.bridges.get(b.call.sid), 'bridge gone');
  });

  it('ends the agent call over REST when the caller hangs up, and cleans up', async () => {
    const activeBefore = metricValue(await metricsText(), 'tonewall_calls_active');
    const endedBefore = metricValue(await metricsText(), 'tonewall_calls_ended_total', '{status="completed"}');
    const b = await placeBridgedCall();
    await b.call.hangup();
    await waitFor(() => b.agentCall.status === 'completed', 'agent call completed');
    const rest = h.emulator.timeline.find(
      (e) => e.type === 'rest' && e.method === 'POST' && e.path.endsWith(`/Calls/${b.agentCall.sid}.json`) && e.params.Status === 'completed',
    );
    expect(rest).toBeDefined();
    await waitFor(() => !h.app.services.bridges.get(b.call.sid), 'bridge gone');
    await waitFor(async () => (await h.app.services.calls.get(b.call.sid))?.state === 'ended', 'session ended');
    // ended by the bridge's cleanup and by its status callback (delivered before `ended`): counted out once
    await b.call.ended;
    expect(metricValue(await metricsText(), 'tonewall_calls_active')).toBe(activeBefore);
    // and counted ended once: by the cleanup that ended it, not again by the callback that found it ended
    expect(metricValue(await metricsText(), 'tonewall_calls_ended_total', '{status="completed"}')).toBe(endedBefore + 1);
    const keys = await h.scan();
    expect(keys.filter((k) => k.key.includes(':stoken:') && k.content.includes(b.call.sid))).toEqual([]);
  });

  it('ends the caller call over REST when the agent hangs up', async () => {
    const b = await placeBridgedCall();
    await b.agentCall.hangup();
    await waitFor(() => b.call.status === 'completed', 'caller call completed');
    await b.call.ended;
    const rest = h.emulator.timeline.find(
      (e) => e.type === 'rest' && e.method === 'POST' && e.path.endsWith(`/Calls/${b.call.sid}.json`) && e.params.Status === 'completed',
    );
    expect(rest).toBeDefined();
    await waitFor(() => !h.app.services.bridges.get(b.call.sid), 'bridge gone');
  });

  it('holds an offered call until a dial-agent command reaches this instance', async () => {
    let agentCall: EmulatedCall | undefined;
    h.emulator.onOutboundCall((c) => {
      if (c.to === 'client:bob') agentCall = c;
    });
    const call = await h.emulator.placeCall({ from: '+15551234567', to: OFFER_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
    const caller = await call.legReady;
    await waitFor(() => h.app.services.bridges.get(call.sid), 'bridge');
    expect((await h.app.services.calls.get(call.sid))?.state).toBe('offered');
    await caller.sendAudio(silence(FRAME * 10));
    await waitFor(() => caller.receivedFrames >= 10, 'hold sound');
    expect(caller.received.some((x) => x !== 0xff)).toBe(true);
    await sleep(100);
    expect(agentCall).toBeUndefined();
    await h.app.services.commands.send(h.config.instanceId, { type: 'dial-agent', callSid: call.sid, endpoint: 'client:bob', agentSub: 'bob' });
    const outbound = await waitFor(() => agentCall, 'the agent call');
    const agent = await outbound.legReady;
    await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'bridged', 'session bridged');
    const session = await h.app.services.calls.get(call.sid);
    expect(session?.state).toBe('bridged');
    expect(session?.handoff).toMatchObject({ agentSub: 'bob', agentEndpoint: 'client:bob', agentCallSid: outbound.sid });
    // the caller's audio now reaches the agent
    await caller.sendAudio(silence(FRAME * 5));
    await relayedThrough(h, caller, agent);
    await call.hangup();
    await outbound.ended;
  });
});

/** CONTRACT: on SIGTERM the process ends its streams cleanly and exits within 10 s */
const CONTRACT_SHUTDOWN_MS = 10_000;

describe('shutdown', () => {
  it("app.close() ends every stream cleanly, within the contract's shutdown bound", async () => {
    const h2 = await startHarness({ flowsDir, store: 'embedded' });
    try {
      let agentCall: EmulatedCall | undefined;
      h2.emulator.onOutboundCall((c) => {
        agentCall = c;
      });
      const call = await h2.emulator.placeCall({ from: '+15551234567', to: BRIDGE_NUMBER, voiceUrl: h2.voiceUrl, statusCallback: h2.statusUrl });
      const caller = await call.legReady;
      const agent = await (await waitFor(() => agentCall, 'agent call')).legReady;
      await waitFor(() => h2.app.services.bridges.get(call.sid)?.state === 'bridged', 'bridged');
      // the contract's bound (its streams ended cleanly and the process gone within 10 s of
      // SIGTERM): a close that waited on a stream's own timeout would take longer
      const t0 = Date.now();
      await h2.app.close();
      expect(Date.now() - t0).toBeLessThan(CONTRACT_SHUTDOWN_MS);
      await Promise.all([caller.closed, agent.closed]);
      expect(caller.closedBy).toBe('service');
      expect(agent.closedBy).toBe('service');
      expect(h2.app.services.bridges.size).toBe(0);
    } finally {
      await h2.emulator.close();
    }
  });
});
