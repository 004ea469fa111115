/**
 * Shared by the agent, capture and panel integration tests: flows for an offered and an
 * assigned bridge call, synthesized in-band DTMF, the independent decoder (multimon-ng via
 * sox), and an agent WebSocket client that records every event it receives.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { EmulatedCall, MediaLeg } from '../../tools/emulator';
import { concat, keyTone, silence } from './audio';
export { DTMF_FREQUENCIES, multimon, power, silence } from './audio';
import { startHarness, waitFor, type Harness } from './harness';
import { expectNoStreamErrors } from './streams';

export const OFFER_NUMBER = '+15005550124';
export const ALICE_NUMBER = '+15005550125';
export const CALLER = '+15551234567';

/** an offered bridge flow (no handoff.to) and one assigned to client:alice, both recorded (file name to YAML) */
export function agentFlows(): Record<string, string> {
  return {
    offer: `id: offer\nnumbers: ["${OFFER_NUMBER}"]\nrecord: true\nsteps: []\nhandoff:\n  mode: bridge\n`,
    alice: `id: alice\nnumbers: ["${ALICE_NUMBER}"]\nrecord: true\nsteps: []\nhandoff:\n  mode: bridge\n  to: "client:alice"\n`,
  };
}

/** agentFlows in a flows dir of the caller's own (which it removes) */
export function makeFlowsDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-agent-flows-'));
  for (const [name, yaml] of Object.entries(agentFlows())) fs.writeFileSync(path.join(dir, `${name}.yaml`), yaml);
  return dir;
}

/**
 * A bridge test file's harness on the agent flows (makeFlowsDir), one for the whole file: started
 * before its tests, closed with its flows directory after, and after each test no leg of any call
 * holds a message Twilio refuses (31924), and, with `restoreMocks`, the test's spies undone. `h`
 * and `alice` (her agent token) are read once it ran; `aliceCalls()`, the calls the service placed
 * to alice.
 */
export function bridgeSuite(opts: { restoreMocks?: boolean } = {}): { readonly h: Harness; readonly alice: string; aliceCalls(): EmulatedCall[] } {
  const suite = {
    aliceCalls: () => [...suite.h.emulator.calls.values()].filter((c) => c.to === 'client:alice'),
  } as { h: Harness; alice: string; flowsDir: string; aliceCalls(): EmulatedCall[] };
  beforeAll(async () => {
    suite.flowsDir = makeFlowsDir();
    suite.h = await startHarness({ flowsDir: suite.flowsDir });
    suite.alice = token(suite.h, 'alice');
  });
  afterEach(() => {
    if (opts.restoreMocks) jest.restoreAllMocks();
    expectNoStreamErrors(suite.h.emulator);
  });
  afterAll(async () => {
    await suite.h?.close();
    if (suite.flowsDir) fs.rmSync(suite.flowsDir, { recursive: true, force: true });
  });
  return suite;
}

// ---- signals ----

/** 80 ms on, 80 ms off: well inside ITU-T Q.24, whole 20 ms frames */
export const TONE_SAMPLES = 640;
export const GAP_SAMPLES = 640;

/** the keys as in-band tones, with silence between and after */
export function keyed(keys: string): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const k of keys) parts.push(keyTone(k, TONE_SAMPLES), silence(GAP_SAMPLES));
  parts.push(silence(1600));
  return concat(parts);
}

// ---- tokens and HTTP ----

/** every agent API route about one call (each answers 401 without a token, 404 for a call not the agent's) */
export const agentRoutes = (sid: string, captureId = 'cap_x') =>
  [
    ['GET', `/v1/calls/${sid}`],
    ['POST', `/v1/calls/${sid}/accept`],
    ['POST', `/v1/calls/${sid}/captures`],
    ['GET', `/v1/calls/${sid}/captures/${captureId}`],
    ['DELETE', `/v1/calls/${sid}/captures/${captureId}`],
    ['POST', `/v1/calls/${sid}/payments`],
    ['GET', `/v1/calls/${sid}/payments/PK0`],
    ['POST', `/v1/calls/${sid}/payments/PK0`],
  ] as const;

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

/**
 * A capture as its agent sees it once it has ended (its status no longer `capturing`), polled
 * through `GET /v1/calls/:callSid/captures/:captureId` with the agent's token.
 */
export async function captureEnded(
  h: Harness,
  tok: string,
  callSid: string,
  captureId: string,
  what = 'the capture to end',
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  return waitFor(
    async () => {
      const r = await api(h, 'GET', `/v1/calls/${callSid}/captures/${captureId}`, tok);
      return (r.body as { status: string }).status !== 'capturing' ? (r.body as Record<string, unknown>) : null;
    },
    what,
    timeoutMs,
  );
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

/**
 * An offered call accepted over REST by the holder of `tok` (on `acceptOn`, another instance
 * sharing `h`'s emulator and store, or `h`), bridged by `h`, the agent call's own recording
 * known by its SID (as it is long before an agent asks for a card).
 */
export async function acceptedCall(
  h: Harness,
  tok: string,
  acceptOn: Harness = h,
): Promise<{ call: EmulatedCall; caller: MediaLeg; agentCall: EmulatedCall; agent: MediaLeg; own: string }> {
  const { call, caller } = await placeCall(h, OFFER_NUMBER, 'offered');
  const accepted = await api(acceptOn, 'POST', `/v1/calls/${call.sid}/accept`, tok);
  if (accepted.status !== 200) throw new Error(`accept answered ${accepted.status}`);
  const { agentCall, agent } = await agentSide(h, call.sid);
  const own = await waitFor(async () => (await h.app.services.calls.get(call.sid))?.agentRecording?.sid, "the agent call's recording SID");
  return { call, caller, agentCall, agent, own };
}

/** the call's latest <Connect><Stream> leg once it is another than `before` and open (its stream made again) */
export async function nextLeg(call: EmulatedCall, before: MediaLeg | undefined, what: string, timeoutMs = 10_000): Promise<MediaLeg> {
  const leg = await waitFor(() => (call.leg && call.leg !== before && call.leg.isOpen ? call.leg : undefined), what, timeoutMs);
  await leg.opened;
  return leg;
}

/** once the service dialled the agent: the agent's emulated call and its media leg, bridged */
export async function agentSide(h: Harness, callSid: string, holder: Harness = h): Promise<{ agentCall: EmulatedCall; agent: MediaLeg }> {
  const session = await waitFor(
    async () => {
      const s = await h.app.services.calls.get(callSid);
      return s?.state === 'bridged' && s.handoff.agentCallSid ? s : null;
    },
    'bridged',
    10_000,
  );
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

/** a socket closed with `code`, or refused at auth with it: the code and reason it was closed with */
export async function refusedAt(h: Harness, tok: string): Promise<{ code: number; reason: string }> {
  const s = await AgentSocket.open(h);
  s.send({ type: 'auth', token: tok });
  return s.closed;
}

/** the socket still served: a client message answered (an accept of a call that is not there) */
export async function stillServed(s: AgentSocket): Promise<void> {
  s.send({ type: 'handoff.accept', callSid: 'CA' + 'f'.repeat(32) });
  await s.next((e) => e.type === 'error' && e.request === 'handoff.accept', 'the accept answered');
  expect(s.isOpen).toBe(true);
}
