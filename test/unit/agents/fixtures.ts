/**
 * Shared by the agent, capture and panel integration tests: flows for an offered and an
 * assigned bridge call, synthesized in-band DTMF, the independent decoder (multimon-ng via
 * sox), and an agent WebSocket client that records every event it receives.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { EmulatedCall, MediaLeg } from '../../../src/emulator';
import { encodeMulaw } from '../../../src/media/dsp/mulaw';
import { waitFor, type Harness } from '../../support/harness';

export const OFFER_NUMBER = '+15005550124';
export const ALICE_NUMBER = '+15005550125';
export const CALLER = '+15551234567';

/** a flows dir with an offered bridge flow (no handoff.to) and one assigned to client:alice, both recorded */
export function makeFlowsDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-agent-flows-'));
  fs.writeFileSync(path.join(dir, 'offer.yaml'), `id: offer\nnumbers: ["${OFFER_NUMBER}"]\nrecord: true\nsteps: []\nhandoff:\n  mode: bridge\n`);
  fs.writeFileSync(
    path.join(dir, 'alice.yaml'),
    `id: alice\nnumbers: ["${ALICE_NUMBER}"]\nrecord: true\nsteps: []\nhandoff:\n  mode: bridge\n  to: "client:alice"\n`,
  );
  return dir;
}

// ---- signals ----

const FS = 8000;
/** peak of a sine at -10 dBm0 on the 16-bit μ-law scale (full-scale sine = +3.14 dBm0) */
const PEAK_M10 = 32124 * Math.pow(10, (-10 - 3.14) / 20);
const PAD = ['1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D'];
const LOW = [697, 770, 852, 941];
const HIGH = [1209, 1336, 1477, 1633];
/** 80 ms on, 80 ms off: well inside ITU-T Q.24, whole 20 ms frames */
export const TONE_SAMPLES = 640;
export const GAP_SAMPLES = 640;

export const silence = (samples: number) => new Uint8Array(samples).fill(0xff);

export function keyTone(key: string, samples = TONE_SAMPLES): Uint8Array {
  const i = PAD.indexOf(key);
  if (i < 0) throw new Error(`no such key: ${key}`);
  const lo = LOW[Math.floor(i / 4)];
  const hi = HIGH[i % 4];
  const out = new Uint8Array(samples);
  for (let n = 0; n < samples; n++) out[n] = encodeMulaw(PEAK_M10 * (Math.sin((2 * Math.PI * lo * n) / FS) + Math.sin((2 * Math.PI * hi * n) / FS)));
  return out;
}

/** the keys as in-band tones, with silence between and after */
export function keyed(keys: string): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const k of keys) parts.push(keyTone(k), silence(GAP_SAMPLES));
  parts.push(silence(1600));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** the keys multimon-ng hears in 8 kHz μ-law; throws clearly when the decoder is missing */
export function multimon(mulaw: Uint8Array): string {
  for (const tool of ['multimon-ng', 'sox']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed: apt-get install multimon-ng sox`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-mm-'));
  try {
    const ul = path.join(dir, 'a.ul');
    const raw = path.join(dir, 'a.raw');
    fs.writeFileSync(ul, mulaw);
    execFileSync('sox', ['-t', 'ul', '-r', '8000', '-c', '1', ul, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-r', '22050', raw]);
    const out = execFileSync('multimon-ng', ['-q', '-t', 'raw', '-a', 'DTMF', raw], { encoding: 'utf8' });
    return [...out.matchAll(/DTMF:\s*([0-9*#A-D])/g)].map((m) => m[1]).join('');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- tokens and HTTP ----

export function token(h: Harness, sub: string, role: 'agent' | 'supervisor' | 'admin' = 'agent', endpoint = `client:${sub}`): string {
  return h.app.services.auth.sign({ sub, endpoint, role });
}

export async function api(h: Harness, method: string, p: string, tok?: string | null, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(h.url + p, {
    method,
    headers: { ...(tok ? { authorization: `Bearer ${tok}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: json };
}

// ---- calls ----

export interface Bridged {
  call: EmulatedCall;
  caller: MediaLeg;
  agentCall: EmulatedCall;
  agent: MediaLeg;
}

/** places a call to `to`; resolves once the service holds its caller leg in the given state */
export async function placeCall(h: Harness, to: string, state: 'offered' | 'bridged'): Promise<{ call: EmulatedCall; caller: MediaLeg }> {
  const call = await h.emulator.placeCall({ from: CALLER, to, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  const caller = await call.legReady;
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === state, `call ${state}`, 10_000);
  return { call, caller };
}

/** once the service dialled the agent: the agent's emulated call and its media leg, bridged */
export async function agentSide(h: Harness, callSid: string, holder: Harness = h): Promise<{ agentCall: EmulatedCall; agent: MediaLeg }> {
  const session = await waitFor(async () => {
    const s = await h.app.services.calls.get(callSid);
    return s?.state === 'bridged' && s.handoff.agentCallSid ? s : null;
  }, 'bridged', 10_000);
  const agentCall = await waitFor(() => holder.emulator.calls.get(session.handoff.agentCallSid!), 'the agent call');
  const agent = await agentCall.legReady;
  return { agentCall, agent };
}

// ---- the agent socket ----

export interface AgentEvent {
  type: string;
  callSid: string | null;
  [k: string]: unknown;
}

export class AgentSocket {
  readonly events: AgentEvent[] = [];
  readonly raw: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      this.raw.push(text);
      this.events.push(JSON.parse(text) as AgentEvent);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(h: Harness, tok?: string): Promise<AgentSocket> {
    const ws = new WebSocket(h.url.replace(/^http/, 'ws') + '/agent/ws');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const s = new AgentSocket(ws);
    if (tok) await s.auth(tok);
    return s;
  }

  /** authenticates, then waits until the server has processed it (an answered probe) */
  async auth(tok: string): Promise<void> {
    this.send({ type: 'auth', token: tok });
    this.send({ type: 'probe' });
    await this.next((e) => e.type === 'error' && e.message === 'malformed message', 'auth processed');
    this.events.length = 0;
    this.raw.length = 0;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  async next(pred: (e: AgentEvent) => boolean, what: string, timeoutMs = 10_000): Promise<AgentEvent> {
    return waitFor(() => this.events.find(pred), what, timeoutMs);
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.ws.close();
  }
}

/** μ-law code → 16-bit linear (G.711) */
function ulaw(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & 0x0f) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

/** Goertzel power of x[start, start+n) at f Hz, normalised by n² */
export function power(x: Uint8Array, start: number, n: number, f: number): number {
  const c = 2 * Math.cos((2 * Math.PI * f) / FS);
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < start + n; i++) {
    const s0 = ulaw(x[i]) + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - c * s1 * s2) / (n * n);
}

export const DTMF_FREQUENCIES = [...LOW, ...HIGH];
