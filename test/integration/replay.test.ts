/**
 * Issue 11 item 1: the replay guard recognises a webhook by what it means. Twilio's signature
 * concatenates names and values without separators, so a captured gather can be resent with
 * its parameters cut at other boundaries and the same signature; it must get the first answer
 * and change nothing. And a gather answer for a call that has left the IVR is a no-op.
 */
import path from 'node:path';
import { ACCOUNT_SID, startHarness, type Harness } from '../support/harness';
import { CALL_TTL_SECONDS } from '../../src/calls/session';
import { REPLAY_TTL_SECONDS } from '../../src/twilio/replay';

const NUMBER = '+15005550098';
const sid = (c: string) => 'CA' + c.repeat(32);

function params(callSid: string, extra: Record<string, string> = {}): Record<string, string> {
  return { AccountSid: ACCOUNT_SID, ApiVersion: '2010-04-01', CallSid: callSid, CallStatus: 'in-progress', From: '+15557654321', To: NUMBER, ...extra };
}

describe('replay guard by meaning', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ flowsDir: path.join(__dirname, '../fixtures/flows-replay') });
  });
  afterAll(async () => h.close());

  /** a call answered its one question and was offered to agents; returns the gather's URL, params and answer */
  async function offeredCall(callSid: string) {
    const voice = await h.emulator.signedPost(h.voiceUrl, params(callSid, { CallStatus: 'ringing' }));
    const action = /action="([^"]+)"/.exec(voice.body)?.[1]?.replace(/&amp;/g, '&');
    expect(action).toMatch(/\/twilio\/gather\/0\/1$/);
    const gather = params(callSid, { Digits: '12345678', CalledCity: '', CalledCountry: 'US' });
    const first = await h.emulator.signedPost(action!, gather);
    expect(first.status).toBe(200);
    expect(first.body).toContain('<Connect><Stream');
    const session = await h.app.services.calls.get(callSid);
    expect(session?.state).toBe('offered');
    return { action: action!, gather, first, session: session! };
  }

  test('a gather resent with its parameters cut at other boundaries gets the first answer and changes nothing', async () => {
    const callSid = sid('a');
    const { action, gather, first, session } = await offeredCall(callSid);
    // `CalledCity=""&CalledCountry=US` and `CalledCity=CalledCountryUS` sign alike
    const shifted: Record<string, string> = { ...gather, CalledCity: 'CalledCountryUS' };
    delete shifted.CalledCountry;
    const signature = h.emulator.signature(action, gather);
    expect(h.emulator.signature(action, shifted)).toBe(signature);
    const keysBefore = (await h.scan()).length;

    const again = await h.emulator.signedPost(action, shifted, { signature });
    expect(again.status).toBe(200);
    expect(again.body).toBe(first.body);
    const after = await h.app.services.calls.get(callSid);
    expect(after).toEqual(session);
    expect(after?.state).toBe('offered');
    // no second stream token, offer or anything else
    expect((await h.scan()).length).toBe(keysBefore);
  });

  test('the same step and attempt with other digits is a replay too', async () => {
    const callSid = sid('b');
    const { action, gather, first, session } = await offeredCall(callSid);
    const other = await h.emulator.signedPost(action, { ...gather, Digits: '87654321', CalledCity: 'Springfield' });
    expect(other.body).toBe(first.body);
    expect(await h.app.services.calls.get(callSid)).toEqual(session);
  });

  test('a gather answer for a call no longer in the IVR changes nothing and answers harmlessly', async () => {
    const callSid = sid('c');
    const { action, session } = await offeredCall(callSid);
    const keysBefore = (await h.scan()).length;
    for (const url of [action.replace(/\/0\/1$/, '/0/2'), action.replace(/\/0\/1$/, '/1/1')]) {
      const r = await h.emulator.signedPost(url, params(callSid, { Digits: '12345678' }));
      expect(r.status).toBe(200);
      expect(r.body).not.toMatch(/<Connect|<Gather|<Dial|<Say/);
    }
    expect(await h.app.services.calls.get(callSid)).toEqual(session);
    // the replay memory of those two answers is the only thing written
    expect((await h.scan()).length).toBe(keysBefore);
  });

  test('a first webhook replayed after its caller was erased recreates nothing', async () => {
    // erasure forgets the call's replay memory with the call: the voice webhook captured then
    // resent found no call and no memory, and opened the call again, the number in the vault
    // and the subject index, offered to agents
    const callSid = sid('e');
    const caller = '+15557650042';
    const voice = params(callSid, { CallStatus: 'ringing', From: caller });
    const first = await h.emulator.signedPost(h.voiceUrl, voice);
    expect(first.body).toContain('<Gather');
    await h.emulator.signedPost(h.statusUrl, params(callSid, { CallStatus: 'completed', From: caller }));
    expect(await h.app.services.privacy.erase(caller)).toMatchObject({ calls: 1 });
    const offered: string[] = [];
    const unsubscribe = await h.app.services.events.subscribe((e) => void offered.push(e.type));
    try {
      const replayed = await h.emulator.signedPost(h.voiceUrl, voice);
      expect(replayed.status).toBe(200);
      expect(replayed.body).not.toMatch(/<Gather|<Connect|<Say/);
      expect(await h.app.services.calls.get(callSid)).toBeNull();
      expect((await h.app.services.privacy.access(caller)).calls).toEqual([]);
      // a replay of the call's gather is no more a new call than its first webhook
      const gather = await h.emulator.signedPost(/action="([^"]+)"/.exec(first.body)![1].replace(/&amp;/g, '&'), params(callSid, { Digits: '12345678' }));
      expect(gather.body).not.toMatch(/<Gather|<Connect/);
      expect(await h.app.services.calls.get(callSid)).toBeNull();
      expect(offered).toEqual([]);
    } finally {
      await unsubscribe();
    }
  });

  test("a call's replay memory lives as long as its call record", async () => {
    const callSid = sid('d');
    await offeredCall(callSid);
    expect(REPLAY_TTL_SECONDS).toBeGreaterThanOrEqual(CALL_TTL_SECONDS);
    const { store, keys } = h.app.services;
    const replayKey = (h.app.services as unknown as { replay: { recordKey(c: string): string } }).replay.recordKey(callSid);
    expect(replayKey).not.toContain(callSid);
    expect(await store.ttl(replayKey)).toBeGreaterThan((await store.ttl(keys.call(callSid))) - 5);
    // a voice webhook resent later with other parameters is still answered from memory
    const first = await h.emulator.signedPost(h.voiceUrl, params(callSid, { CallStatus: 'ringing' }));
    const resent = await h.emulator.signedPost(h.voiceUrl, params(callSid, { CallStatus: 'ringing', From: '+15550000000' }));
    expect(resent.body).toBe(first.body);
  });
});
