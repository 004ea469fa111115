/**
 * The demo's second half: bridge mode. An agent accepts the offered call; the caller keys a card
 * number in-band while they talk (masked: the agent hears one flat tone per key), then the agent
 * starts a secure capture and the caller keys it again (recording paused, masked progress, a
 * masked result). It writes caller.wav and agent.wav (and spectrograms where sox is installed)
 * to demo-out/ and prints what an independent decoder hears on each side.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { keyTones, type EmulatedCall, type MediaLeg, type TwilioEmulator } from '../emulator';
import { multimonKeys, mulawWav, spectrogram } from './audio-files';
import { DEMO_CARD } from './demo-values';

interface DemoContext {
  app: FastifyInstance;
  emulator: TwilioEmulator;
  call: EmulatedCall;
  /** the service's own origin, where the agent API answers on this host */
  apiUrl: string;
  say: (s?: string) => void;
  /** the keys the caller pressed for non-sensitive prompts while the recording ran (the menu's): the caller's recording may hold these, and nothing else */
  recordedKeys: string;
  /** the service's MASK_LOOKAHEAD_MS: how far behind the caller the agent hears them */
  lookaheadMs: number;
}

async function until<T>(fn: () => T | Promise<T>, what: string, ms = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function speech(root: string, seconds: number): Uint8Array {
  const corpus = path.join(root, 'test/fixtures/speech/corpus-2min.ulaw');
  if (existsSync(corpus)) return new Uint8Array(readFileSync(corpus).subarray(8000 * 5, 8000 * (5 + seconds)));
  // no corpus: a soft vowel-like tone stands in for the caller's voice
  const out = new Uint8Array(8000 * seconds).fill(0xff);
  return out;
}

export async function runBridgeDemo({ app, emulator, call, apiUrl, say, recordedKeys, lookaheadMs }: DemoContext): Promise<boolean> {
  const root = path.join(__dirname, '../..');
  const agentToken = app.services.auth.sign({ sub: 'demo-agent', endpoint: 'client:demo-agent', role: 'agent' });
  const api = async (method: string, route: string, body?: unknown) => {
    const r = await fetch(`${apiUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${agentToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, unknown> };
  };

  say();
  say('bridge mode: the caller hears hold music; the call is offered to connected agents');
  const callerLeg: MediaLeg = await call.legReady;
  let agentCall: EmulatedCall | undefined;
  emulator.onOutboundCall((c) => (agentCall = c));
  const accepted = await api('POST', `/v1/calls/${call.sid}/accept`);
  say(`  agent demo-agent accepts: POST /v1/calls/${call.sid}/accept → ${accepted.status}`);
  const agentLeg = await (await until(() => agentCall, 'the agent call')).legReady;
  await until(async () => (await api('GET', `/v1/calls/${call.sid}`)).body.state === 'bridged', 'the bridge');
  say('  both legs relay through tonewall: caller→agent masked, agent→caller unchanged');

  // Twilio's cadence keeps the caller's stream going with silence between the sends, and all of
  // it is relayed: the caller's audio is found in what the agent heard by where it was sent. Until
  // the agent's stream started, each caller frame was answered by one hold frame, then a `clear`;
  // from there each caller frame reaches the agent as one frame, the look-ahead later.
  await until(() => callerLeg.clearedAt.length > 0, "the caller's clear at the bridge");
  const callerAt = (offset: number) => offset + (lookaheadMs * 8000) / 1000 - callerLeg.clearedAt[0]!;
  const heardBefore = callerAt(callerLeg.sentBytes);
  const sent: Uint8Array[] = [];
  const send = async (audio: Uint8Array) => {
    sent.push(audio);
    await callerLeg.sendAudio(audio);
  };
  say();
  say('the caller talks, then keys the card number on the keypad mid-conversation:');
  await send(speech(root, 2));
  await send(keyTones(DEMO_CARD));
  await send(speech(root, 1));

  say('the agent starts a secure capture; the caller keys the card number again:');
  const started = await api('POST', `/v1/calls/${call.sid}/captures`, { name: 'card', kind: 'card-number' });
  if (started.status !== 201) throw new Error(`capture did not start: ${started.status}`);
  const captureId = String(started.body.captureId);
  await send(keyTones(`${DEMO_CARD}#`));
  await send(speech(root, 1));
  const result = await until(async () => {
    const r = await api('GET', `/v1/calls/${call.sid}/captures/${captureId}`);
    return r.body.status !== 'capturing' ? r.body : null;
  }, 'the capture');
  say(`  capture ${result.status}: ${JSON.stringify({ masked: result.masked, brand: result.brand, last4: result.last4, valid: result.valid })}`);
  const heardThrough = callerAt(callerLeg.sentBytes);
  await until(() => agentLeg.received.length >= heardThrough, 'all the caller audio at the agent');

  const callerAudio = new Uint8Array(sent.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of sent) {
    callerAudio.set(a, o);
    o += a.length;
  }
  const agentAudio = agentLeg.received.subarray(heardBefore, heardThrough);
  const out = path.join(process.cwd(), 'demo-out');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'caller.wav'), mulawWav(callerAudio));
  writeFileSync(path.join(out, 'agent.wav'), mulawWav(agentAudio));
  const pngs =
    spectrogram(path.join(out, 'caller.wav'), path.join(out, 'caller.png'), 'caller (what was keyed)') &&
    spectrogram(path.join(out, 'agent.wav'), path.join(out, 'agent.png'), 'agent (what tonewall relayed)');
  say();
  say(`wrote demo-out/caller.wav and demo-out/agent.wav${pngs ? ', and their spectrograms caller.png and agent.png' : ' (install sox for spectrograms)'}`);
  const callerKeys = multimonKeys(callerAudio);
  const agentKeys = multimonKeys(agentAudio);
  let ok = result.status === 'completed' && result.masked === '************1111';
  if (callerKeys === null || agentKeys === null) {
    say('independent decoder: multimon-ng and sox are not installed (apt-get install multimon-ng sox), skipped');
  } else {
    say(`independent decoder (multimon-ng) on the caller's audio: ${callerKeys.length} keys ${callerKeys.replace(/\d/g, '•')}`);
    say(`independent decoder (multimon-ng) on the agent's audio:  ${agentKeys.length} keys`);
    ok = ok && agentKeys.length === 0 && callerKeys.length > 0;
  }
  await call.hangup();
  await until(() => agentCall?.status === 'completed', 'the agent call to end', 5_000).catch(() => undefined);
  say(`caller hung up; the agent's call was ended over REST: ${agentCall?.status}`);

  // Every recording Twilio made of either call, each channel: the caller's (stopped before the
  // bridge) and the agent's (what the agent heard, masked; paused during the capture).
  say();
  say('independent decoder (multimon-ng) on every recording, every channel:');
  let recordings = 0;
  for (const [who, c] of [
    ['caller', call],
    ['agent', agentCall],
  ] as const) {
    for (const rec of c?.recordings ?? []) {
      const channels = rec.channels();
      const counts = channels.map((ch) => multimonKeys(ch));
      if (counts.some((k) => k === null)) continue;
      recordings++;
      const names = channels.length === 2 ? ['inbound', 'outbound'] : ['mono'];
      // the caller's own keys are on its inbound channel: only the non-sensitive menu's may be there
      const allowed = who === 'caller' ? [recordedKeys, ''] : ['', ''];
      const shown = (k: string, i: number) => (k.length > 0 && k === allowed[i] ? ` (${k}: the non-sensitive menu)` : '');
      say(
        `  ${who}'s call, recording ${rec.sid}: ${counts.map((k, i) => `${names[i]} ${k!.length} keys${shown(k!, i)} (${channels[i].length / 8000} s)`).join(', ')}`,
      );
      ok = ok && counts.every((k, i) => k === allowed[i]);
    }
  }
  if (recordings === 0) say('  (no recording decoded: multimon-ng and sox are not installed, or nothing was recorded)');
  return ok;
}
