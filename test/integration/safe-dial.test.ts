/**
 * The safe answer's <Dial> (CONTRACT §2): a step that cannot be served because the store (a Redis
 * of the test's own) is down answers the apology and the flow's fixed dial, whose action,
 * `/twilio/dial-status?fallback=1`, is answered from the request alone. An agent who is busy, does
 * not answer or cannot be reached: the caller hears the no-agent apology and is hung up, never
 * silence and never another dial; one who answers: the call ends with the dial. Signed like every
 * webhook, the query with it.
 */
import { systemMessage } from '../../src/flows/prompt-defaults';
import { SUPPORT_NUMBER, webhookParams } from '../support/harness';
import { privateRedisHarness } from '../support/private-redis';
import type { DialOutcome, EmulatedCall } from '../../tools/emulator';

const CALLER = '+15550006666';
const DOB = '14021985';
const NO_AGENT = systemMessage('no-agent');
const CONNECTING = systemMessage('apology-connecting');

const onRedis = privateRedisHarness();

afterEach(() => {
  delete onRedis.h.emulator.faults.dialOutcome;
});

/** a call to the support flow (a date of birth, then a dial to client:alice) with the store down from `when`, its agent doing `outcome`, run to its end */
async function safeDialledCall(outcome: DialOutcome, when: 'mid-call' | 'from the start'): Promise<EmulatedCall> {
  onRedis.h.emulator.faults.dialOutcome = outcome;
  if (when === 'from the start') await onRedis.redis.stop();
  const call = await onRedis.h.emulator.placeCall({
    from: CALLER,
    to: SUPPORT_NUMBER,
    voiceUrl: onRedis.h.voiceUrl,
    onGather: async () => {
      await onRedis.redis.stop();
      return DOB;
    },
  });
  await call.ended;
  expect(onRedis.redis.down).toBe(true);
  // mid-call: the date of birth was asked for, and its step failed
  expect(call.transcript.some((t) => t.verb === 'Gather')).toBe(when === 'mid-call');
  return call;
}

const afterDial = (call: EmulatedCall) => call.transcript.slice(call.transcript.findIndex((t) => t.verb === 'Dial'));
const dialActions = (callSid: string) => onRedis.h.emulator.timelineFor(callSid).filter((e) => e.type === 'webhook' && e.purpose === 'dial-action');

test.each([
  ['busy', { status: 'busy' }, 'mid-call'],
  ['no-answer', { status: 'no-answer', secondMs: 1 }, 'from the start'],
  ['failed', { status: 'failed' }, 'from the start'],
] as const)('the store down, the safe dial’s agent %s: the caller hears the no-agent apology and is hung up', async (_status, outcome, when) => {
  const call = await safeDialledCall(outcome, when);
  const dialAt = call.transcript.findIndex((t) => t.verb === 'Dial');
  expect(call.transcript[dialAt - 1]).toMatchObject({ verb: 'Say', text: CONNECTING });
  expect(afterDial(call)).toEqual([{ verb: 'Dial', target: 'alice', targetKind: 'Client' }, { verb: 'Say', text: NO_AGENT }, { verb: 'Hangup' }]);
  expect(dialActions(call.sid)).toEqual([expect.objectContaining({ status: 200, url: expect.stringMatching(/\/twilio\/dial-status\?fallback=1$/) })]);
  // answered from the request: the store was never back
  expect(onRedis.redis.down).toBe(true);
  expect(onRedis.h.logs.lines.some((l) => l.includes(call.sid) && l.includes("the safe answer's dial did not connect"))).toBe(true);
});

test('the store down, the safe dial’s agent answers: no apology after the dial, the call ends with it', async () => {
  const call = await safeDialledCall({ status: 'completed', talkSeconds: 3, secondMs: 1 }, 'from the start');
  expect(afterDial(call)).toEqual([{ verb: 'Dial', target: 'alice', targetKind: 'Client' }]);
  expect(call.transcript.some((t) => t.verb === 'Say' && t.text === NO_AGENT)).toBe(false);
  expect(dialActions(call.sid)).toEqual([expect.objectContaining({ status: 200 })]);
});

test('no loop: a dial-status that cannot be served answers from the request, never the safe answer’s dial again', async () => {
  await onRedis.redis.stop();
  const callSid = 'CA' + '5'.repeat(32);
  for (const path of ['/twilio/dial-status', '/twilio/dial-status?fallback=1']) {
    const busy = await onRedis.h.emulator.signedPost(`${onRedis.h.publicUrl}${path}`, webhookParams(callSid, SUPPORT_NUMBER, { DialCallStatus: 'busy' }));
    expect(busy.status).toBe(200);
    expect(busy.body).toContain(NO_AGENT);
    expect(busy.body).toContain('<Hangup/>');
    expect(busy.body).not.toContain('<Dial');
    const done = await onRedis.h.emulator.signedPost(`${onRedis.h.publicUrl}${path}`, webhookParams(callSid, SUPPORT_NUMBER, { DialCallStatus: 'completed' }));
    expect(done.body).not.toContain('<Say');
    expect(done.body).not.toContain('<Dial');
  }
  // the fallback's request with no valid CallSid: refused, and still no dial
  const malformed = await onRedis.h.emulator.signedPost(`${onRedis.h.publicUrl}/twilio/dial-status?fallback=1`, { To: SUPPORT_NUMBER, DialCallStatus: 'busy' });
  expect(malformed.body).toContain(NO_AGENT);
  expect(malformed.body).not.toContain('<Dial');
});

test('the fallback dial-status is a signed webhook, its query signed with it: unsigned 400, wrongly signed 403', async () => {
  const url = `${onRedis.h.publicUrl}/twilio/dial-status?fallback=1`;
  const params = webhookParams('CA' + '6'.repeat(32), SUPPORT_NUMBER, { DialCallStatus: 'busy' });
  expect((await onRedis.h.emulator.signedPost(url, params, { signature: null })).status).toBe(400);
  // signed for the action without its query, sent with it
  const bare = await onRedis.h.emulator.signedPost(url, params, {
    signature: onRedis.h.emulator.signature(`${onRedis.h.publicUrl}/twilio/dial-status`, params),
  });
  expect(bare.status).toBe(403);
  expect(bare.body).not.toContain('<Response');
  expect((await onRedis.h.emulator.signedPost(url, params, { signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' })).status).toBe(403);
});
