/**
 * Issue 11 item 5: Redis is a trust boundary. A `dial-agent` command published on an instance's
 * channel by anyone but an instance of the deployment (unsigned, or signed with another key)
 * must not put the caller through anywhere; the genuine accept still does. Nor may a forged
 * `call.ended` event tear a bridge down.
 */
import { MessageSigner } from '../../src/store';
import { startHarness, sleep, type Harness } from '../support/harness';
import { agentFlows, agentSide, api, OFFER_NUMBER, placeCall, token } from '../support/agents';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ flows: agentFlows() });
});

afterAll(async () => h?.close());

it('a forged dial-agent on Redis bridges the caller nowhere', async () => {
  const dialled: string[] = [];
  h.emulator.onOutboundCall((c) => void dialled.push(c.to));
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  expect(h.app.services.bridges.get(call.sid)).toBeDefined();

  const { keys, config } = h.app.services;
  const channel = keys.instanceChannel(config.instanceId);
  const forged = { type: 'dial-agent', callSid: call.sid, endpoint: '+15559990000', agentSub: 'mallory' };
  await h.redisStore!.publish(channel, JSON.stringify(forged));
  await h.redisStore!.publish(channel, new MessageSigner([Buffer.alloc(32, 3)]).sign(channel, forged));
  await sleep(500);
  expect(dialled).toEqual([]);
  const session = await h.app.services.calls.get(call.sid);
  expect(session?.state).toBe('offered');
  expect(session?.handoff.agentCallSid).toBeUndefined();
  expect(h.logs.text).toContain('instance command refused: not signed by an instance');
  expect(h.logs.text).not.toContain('+15559990000');
  // and counted, by the reason, on /metrics
  const text = await h.app.services.metrics.registry.metrics();
  expect(text).toContain('tonewall_bus_dropped_total{bus="commands",reason="unsigned"} 1');
  expect(text).toContain('tonewall_bus_dropped_total{bus="commands",reason="bad-signature"} 1');

  // the same bridge is put through by the accept of an agent, signed by the instance
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, token(h, 'alice'))).status).toBe(200);
  const { agentCall } = await agentSide(h, call.sid);
  expect(agentCall.to).toBe('client:alice');
  expect(dialled).toEqual(['client:alice']);

  // a forged call.ended (events are signed too) neither ends the bridge nor anything else
  const events = keys.eventsChannel();
  await h.redisStore!.publish(events, JSON.stringify({ type: 'call.ended', callSid: call.sid, status: 'completed' }));
  await sleep(300);
  expect(h.app.services.bridges.get(call.sid)).toBeDefined();
  expect(h.logs.text).toContain('call event refused: not signed by an instance');
  await call.hangup();
});
