/**
 * What one authenticated agent socket may cost the instance (agents/socket-limits.ts), on the
 * real app over real sockets. Before these limits a client that sent 7-byte malformed messages
 * and never read made the service queue a 62-byte answer for each without bound, a stalled
 * supervisor socket queued every event of every call, and any number of requests of one socket
 * ran at once: the instance's memory, and every bridge on it, was any agent's to take.
 */
import fs from 'node:fs';
import type net from 'node:net';
import { metricValue, startHarness, waitFor, type Harness } from '../../support/harness';
import { AgentSocket, agentSide, keyed, makeFlowsDir, OFFER_NUMBER, placeCall, token } from '../../support/agents';
import { MAX_REQUESTS_IN_FLIGHT, MAX_SOCKET_BUFFERED_BYTES, MESSAGE_BURST } from '../../../src/agents/socket-limits';

const someSid = 'CA' + 'a'.repeat(32);
const CLOSED = 'tonewall_agent_sockets_closed_total';

/** the client stops reading: its TCP socket is paused, so what the service sends it backs up */
function tcp(s: AgentSocket): net.Socket {
  return (s.ws as unknown as { _socket: net.Socket })._socket;
}

interface ClosedLine {
  /** who, as the audit trail names them: the line holds no sub */
  actor: string;
  role: string;
  reason: string;
  bufferedBytes: number;
}

function closedLines(h: Harness, agent: string): ClosedLine[] {
  // the digest names the user whatever their role (the actor is `<role>:<digest>`)
  const digest = h.app.services.audit.actor({ role: 'agent', sub: agent }).split(':')[1];
  return h.logs.lines
    .map((l) => JSON.parse(l) as { msg: string } & ClosedLine)
    .filter((l) => l.msg === 'agent socket closed' && l.actor?.split(':')[1] === digest);
}

/** until the socket is closed or `max` rounds have passed: run a round, then let the service catch up */
async function untilClosed(h: Harness, agent: string, max: number, round: () => Promise<void>): Promise<ClosedLine> {
  for (let i = 0; i < max && closedLines(h, agent).length === 0; i++) await round();
  const [line] = closedLines(h, agent);
  if (!line) throw new Error(`${agent}'s socket was never closed`);
  return line;
}

describe('with the default limits', () => {
  let h: Harness;
  let flowsDir: string;
  beforeAll(async () => {
    flowsDir = makeFlowsDir();
    h = await startHarness({ store: 'embedded', flowsDir });
  });
  afterAll(async () => {
    await h?.close();
    fs.rmSync(flowsDir, { recursive: true, force: true });
  });

  test('a burst of messages over the rate closes the socket (1008), counted, and what came past the limit is not served', async () => {
    const s = await AgentSocket.open(h, token(h, 'flooder'));
    for (let i = 0; i < 200; i++) s.send('{bad}!!');
    expect(await s.closed).toEqual({ code: 1008, reason: 'too many messages' });
    const answered = s.events.filter((e) => e.type === 'error' && e.message === 'malformed message').length;
    // the burst (less the probe auth sent), and at most a few refilled while it was read
    expect(answered).toBeGreaterThanOrEqual(MESSAGE_BURST - 1);
    expect(answered).toBeLessThan(MESSAGE_BURST + 10);
    expect(closedLines(h, 'flooder')).toEqual([expect.objectContaining({ reason: 'rate-limit', role: 'agent' })]);
    expect(await metricValue(h, CLOSED, { reason: 'rate-limit' })).toBe(1);
  });

  test('requests past the few in flight are answered busy, not run; the socket stays open', async () => {
    const s = await AgentSocket.open(h, token(h, 'busy'));
    // one tick: the service reads them in one go and starts each before any has finished
    for (let i = 0; i < 12; i++) s.send({ type: 'handoff.accept', callSid: someSid });
    await waitFor(() => s.events.filter((e) => e.type === 'error').length >= 12, 'twelve answers');
    const errors = s.events.filter((e) => e.type === 'error');
    expect(errors.filter((e) => e.message === 'call not found')).toHaveLength(MAX_REQUESTS_IN_FLIGHT);
    const busy = errors.filter((e) => e.message === 'too many requests in progress');
    expect(busy).toHaveLength(12 - MAX_REQUESTS_IN_FLIGHT);
    expect(busy[0]).toMatchObject({ code: 'TW_ERR_AGENT_SOCKET_BUSY', request: 'handoff.accept', callSid: someSid });
    // once they have finished, the next is served again
    s.send({ type: 'handoff.accept', callSid: someSid });
    await waitFor(() => s.events.filter((e) => e.message === 'call not found').length > MAX_REQUESTS_IN_FLIGHT, 'the next served');
    expect(s.isOpen).toBe(true);
    s.close();
  });

  test('a normal session (offer, accept, capture over the socket) is unaffected', async () => {
    const s = await AgentSocket.open(h, token(h, 'alice'));
    const { call, caller } = await placeCall(h, OFFER_NUMBER, 'offered');
    await s.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'the offer');
    s.send({ type: 'handoff.accept', callSid: call.sid });
    await agentSide(h, call.sid);
    await s.next((e) => e.type === 'call.bridged' && e.callSid === call.sid, 'call.bridged');
    s.send({ type: 'capture.start', callSid: call.sid, name: 'card', kind: 'card-number' });
    await s.next((e) => e.type === 'capture.started', 'capture.started');
    await caller.sendAudio(keyed('4111111111111111#'));
    const done = await s.next((e) => e.type === 'capture.completed', 'capture.completed', 20_000);
    expect(done).toMatchObject({ masked: '************1111', brand: 'visa' });
    expect(s.events.filter((e) => e.type === 'capture.progress').length).toBeGreaterThan(0);
    expect(s.events.filter((e) => e.type === 'error')).toEqual([]);
    expect(s.isOpen).toBe(true);
    expect(closedLines(h, 'alice')).toEqual([]);
    await call.hangup();
    await s.next((e) => e.type === 'call.ended' && e.callSid === call.sid, 'call.ended');
    s.close();
  });

  test('a supervisor socket that stops reading is closed once its buffer passes the bound; an agent reading goes on receiving every event', async () => {
    const sup = await AgentSocket.open(h, token(h, 'stalled', 'supervisor'));
    const bob = await AgentSocket.open(h, token(h, 'bob'));
    const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
    await sup.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'the offer at the supervisor');
    await bob.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'the offer at bob');
    tcp(sup).pause();
    // about 1 KB each: the kernel's socket buffers fill first, then the service's
    const event = { type: 'capture.progress' as const, callSid: call.sid, captureId: 'cap_stall', entered: 1, masked: '*'.repeat(1000) };
    let published = 0;
    const line = await untilClosed(h, 'stalled', 200, async () => {
      for (let i = 0; i < 200; i++, published++) await h.app.services.events.publish(event);
      await waitFor(() => bob.events.filter((e) => e.captureId === 'cap_stall').length === published, 'bob caught up', 20_000);
    });
    expect(line).toMatchObject({ reason: 'backpressure', role: 'supervisor' });
    // the service never held more than the bound and the one event that found it over
    expect(line.bufferedBytes).toBeGreaterThan(MAX_SOCKET_BUFFERED_BYTES);
    expect(line.bufferedBytes).toBeLessThanOrEqual(MAX_SOCKET_BUFFERED_BYTES + JSON.stringify(event).length);
    expect(await metricValue(h, CLOSED, { reason: 'backpressure' })).toBe(1);
    // bob goes on: the events after the close reach him, and only him
    for (let i = 0; i < 10; i++, published++) await h.app.services.events.publish(event);
    await waitFor(() => bob.events.filter((e) => e.captureId === 'cap_stall').length === published, 'bob after the close', 20_000);
    expect(bob.isOpen).toBe(true);
    tcp(sup).resume();
    await sup.closed;
    bob.close();
    await call.hangup();
  });
});

describe('with the message rate out of the way', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ store: 'embedded', build: { agentSocketLimits: { messagesPerSecond: 1e9, messageBurst: 1e9 } } });
  });
  afterAll(async () => h?.close());

  test('a client that floods malformed frames and never reads is closed; the service holds at most the bound for it', async () => {
    const tok = token(h, 'mallory');
    const s = await AgentSocket.open(h, tok);
    tcp(s).pause();
    let sent = 0;
    const line = await untilClosed(h, 'mallory', 400, async () => {
      for (let i = 0; i < 2000; i++, sent++) s.send('{bad}!!');
      // the client's own queue drains into the service before the next round, unless the service
      // closed the socket during this one (what the client still held then is never sent)
      await waitFor(() => s.ws.bufferedAmount === 0 || closedLines(h, 'mallory').length > 0, 'the round sent or the socket closed', 20_000);
    });
    expect(line).toMatchObject({ reason: 'backpressure', role: 'agent' });
    const answer = JSON.stringify({ type: 'error', message: 'malformed message', callSid: null });
    expect(line.bufferedBytes).toBeGreaterThan(MAX_SOCKET_BUFFERED_BYTES);
    expect(line.bufferedBytes).toBeLessThanOrEqual(MAX_SOCKET_BUFFERED_BYTES + answer.length);
    expect(await metricValue(h, CLOSED, { reason: 'backpressure' })).toBe(1);
    // nothing personal in the line: no token, no address
    expect(closedLines(h, 'mallory')[0]).not.toHaveProperty('ip');
    expect(h.logs.text).not.toContain(tok);
    tcp(s).resume();
    await s.closed;
    expect(sent).toBeGreaterThan(0);
  });
});
