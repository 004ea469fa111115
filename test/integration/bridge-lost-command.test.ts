/**
 * An accept's `dial-agent` lost on its way to the instance holding the caller (the accepting
 * instance gone between writing the record and publishing, or Redis pub/sub dropping the message:
 * it is fire-and-forget, and a subscriber reconnecting misses what was sent meanwhile). The record
 * says the agent accepted; the holding instance reads it again while its caller holds and dials
 * them, once, and the command arriving late after all dials no one. Two instances on one Redis
 * and one emulator: A holds the caller, the agent accepts on B.
 */
import fs from 'node:fs';
import type { InstanceCommand } from '../../src/bus';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { expectNoStreamErrors } from '../support/streams';
import { agentSide, api, makeFlowsDir, OFFER_NUMBER, placeCall, token } from '../support/agents';

let a: Harness;
let b: Harness;
let flowsDir: string;

beforeAll(async () => {
  flowsDir = makeFlowsDir();
  a = await startHarness({ flowsDir });
  b = await startHarness({ flowsDir, emulator: a.emulator, keyPrefix: a.keyPrefix });
});

// no message either instance sent on any stream is one Twilio refuses (31924)
afterEach(() => expectNoStreamErrors(a.emulator));

afterAll(async () => {
  await b?.close();
  await a?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

/** the calls the service placed to alice */
const aliceCalls = () => [...a.emulator.calls.values()].filter((c) => c.to === 'client:alice');

/** how often A has dialled an accepted agent from a held caller's record */
const redials = () => a.logs.lines.filter((l) => l.includes('dialling them from the record')).length;

/** the caller's call ended by hanging up, and the session with it */
async function hangUp(h: Harness, call: { sid: string; hangup(): Promise<void> }): Promise<void> {
  await call.hangup();
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'ended', 'the session to end');
}

test('an accept whose dial-agent was never published: the holding instance dials the agent from the record, once, and the late command dials no one', async () => {
  const alice = token(b, 'alice');
  const before = aliceCalls().length;
  const { call } = await placeCall(a, OFFER_NUMBER, 'offered');
  expect((await a.app.services.calls.get(call.sid))?.instanceId).toBe(a.config.instanceId);

  // B writes the accept to the record and its publish of dial-agent goes nowhere (as if B died in between)
  const commands = b.app.services.commands;
  const publish = commands.send.bind(commands);
  const withheld: { instanceId: string; command: InstanceCommand }[] = [];
  commands.send = async (instanceId, command) => {
    if (command.type === 'dial-agent') withheld.push({ instanceId, command });
    else await publish(instanceId, command);
  };
  try {
    expect((await api(b, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(200);
  } finally {
    commands.send = publish;
  }
  expect(withheld).toEqual([{ instanceId: a.config.instanceId, command: expect.objectContaining({ type: 'dial-agent', callSid: call.sid }) }]);

  // A holding the caller reads the record, finds alice accepted and no call placed to her, and dials her
  const { agentCall } = await agentSide(a, call.sid);
  expect(agentCall.to).toBe('client:alice');
  expect(redials()).toBe(1);
  expect(aliceCalls().length - before).toBe(1);

  // the command arrives after all (published late, signed and received as any): the bridge is past holding, nobody dialled again
  await publish(withheld[0].instanceId, withheld[0].command);
  await waitFor(() => a.logs.text.includes('dial-agent for a bridge past holding'), 'the late dial-agent received on A');
  expect(aliceCalls().length - before).toBe(1);
  expect(a.app.services.bridges.get(call.sid)?.state).toBe('bridged');
  expect((await a.app.services.calls.get(call.sid))?.handoff.agentCallSid).toBe(agentCall.sid);

  await hangUp(a, call);
});

test('a dial-agent pub/sub dropped (the holding instance not subscribed when it was sent): the agent is still dialled, once', async () => {
  const alice = token(b, 'alice');
  const before = aliceCalls().length;
  const { call } = await placeCall(a, OFFER_NUMBER, 'offered');
  const fromRecord = redials();

  // A's command channel unsubscribed while B accepts and publishes: Redis delivers the command to no one
  await a.app.services.commands.stop();
  try {
    expect((await api(b, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(200);
  } finally {
    await a.app.services.commands.start();
  }

  const { agentCall } = await agentSide(a, call.sid);
  expect(agentCall.to).toBe('client:alice');
  expect(aliceCalls().length - before).toBe(1);
  expect(redials()).toBe(fromRecord + 1);
  await hangUp(a, call);
});
