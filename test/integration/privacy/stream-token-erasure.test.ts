/**
 * A media-stream token names its call (its grant: callSid, leg, instance) for up to
 * STREAM_TOKEN_TTL_SECONDS, and one is left unused whenever Twilio never opens the stream it was
 * issued for: the caller hung up first, a redirect that carried it failed, an agent's call was
 * never placed. After an erasure nothing in the store may name the caller's calls but their audit
 * trails (CONTRACT §7), so the erasure removes the call's tokens, as it does its other per-call
 * keys. Real app, real Redis: a bridge call's first webhook issues the caller leg's token in its
 * TwiML (the atomic write, twilio/webhook-write.ts), and an agent leg's token is issued as a dial
 * issues it (StreamTokens.issue); Twilio opens neither.
 */
import { agentFlows, OFFER_NUMBER } from '../../support/agents';
import { newCallSid } from '../../support/fixtures';
import { startHarness, webhookParams, WEBHOOK_CALLER, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ flows: agentFlows() });
});
afterAll(async () => h?.close());

test("an erasure removes the caller's unused media-stream tokens: no key left names their call, and no token of it opens a stream", async () => {
  const { keys, tokens, privacy, calls } = h.app.services;
  const callSid = newCallSid();
  const answer = await h.emulator.signedPost(h.voiceUrl, webhookParams(callSid, OFFER_NUMBER));
  expect(answer.status).toBe(200);
  const twiml = answer.body;
  const callerToken = /\/media\/([A-Za-z0-9_-]+)"/.exec(twiml)?.[1];
  expect(callerToken).toBeDefined();
  const agent = await tokens.issue({ callSid, leg: 'agent', instanceId: h.config.instanceId, bridgeCallSid: callSid, agentSub: 'alice' });
  // both held, naming the call, before the erasure
  for (const t of [callerToken!, agent.token]) expect(await tokens.peek(t)).toMatchObject({ callSid });

  const receipt = await privacy.erase(WEBHOOK_CALLER);
  expect(receipt.calls).toBe(1);
  expect(await calls.get(callSid)).toBeNull();
  for (const t of [callerToken!, agent.token]) {
    expect(await tokens.peek(t)).toBeNull();
    expect(await tokens.take(t)).toBeNull();
  }
  // every key and value: only the call's audit trail (and the export's day index of trails) names it
  for (const { key, content } of await h.scan()) {
    if (key === keys.audit(callSid) || key.startsWith(keys.auditDay(''))) continue;
    expect(`${key}\n${content}`).not.toContain(callSid);
  }
});

test('a token issued from a record read before the erasure, and written after the erasure swept the call, is withdrawn: nothing left names the call', async () => {
  const { keys, tokens, privacy, calls } = h.app.services;
  const callSid = newCallSid();
  expect((await h.emulator.signedPost(h.voiceUrl, webhookParams(callSid, OFFER_NUMBER))).status).toBe(200);
  // an agent dial (or a take-up of the caller's stream) reads the call's record, as media/agent-dial.ts does...
  expect(await calls.get(callSid)).not.toBeNull();
  // ...the caller's erasure runs to its end meanwhile, its sweeps of the call's tokens included...
  expect((await privacy.erase(WEBHOOK_CALLER)).calls).toBe(1);
  // ...and only then is the token written, from the record read before
  const late = await tokens.issue({ callSid, leg: 'agent', instanceId: h.config.instanceId, bridgeCallSid: callSid, agentSub: 'alice' });
  expect(await tokens.peek(late.token)).toBeNull();
  for (const { key, content } of await h.scan()) {
    if (key === keys.audit(callSid) || key.startsWith(keys.auditDay(''))) continue;
    expect(`${key}\n${content}`).not.toContain(callSid);
  }
});
