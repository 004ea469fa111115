/**
 * Fewer store round trips on the webhooks after a call's first (twilio/webhook-write.ts): a
 * gather's replay claim reads the call, and the step's writes (session, vault, audit entries,
 * stream token) land in one atomic write with its remembered answer. Round trips are counted as
 * Redis sees them (MONITOR), and every guarantee of the general path is held to: a replay gets
 * the first answer and runs nothing, concurrent copies apply the step once, a store failure
 * answers the safe TwiML and writes nothing, and the audit chain verifies after the write.
 */
import path from 'node:path';
import { PAYMENTS_NUMBER, SUPPORT_NUMBER, startHarness, webhookParams as params, type Harness } from '../support/harness';
import { named, postCounted, roundTrips } from '../support/round-trips';
import { Errors } from '../../src/errors';
import { ENDED_CALL_TTL_SECONDS } from '../../src/calls/session';

const sid = (c: string) => 'CA' + c.repeat(32);
/** a valid date of birth for the support flow's one question */
const DOB = '01011990';

/** the call's audit trail, verified: its entries' types */
/**
 * The same keys with the same contents, none written again: a TTL only ran down (a rewrite would
 * have set it anew), by the seconds a loaded host took between the two scans at most.
 */
function expectUnchanged(after: { key: string; ttl: number; content: string }[], before: { key: string; ttl: number; content: string }[]): void {
  const strip = (keys: typeof after) => keys.map(({ key, content }) => ({ key, content }));
  expect(strip(after)).toEqual(strip(before));
  after.forEach(({ ttl }, i) => {
    expect(ttl).toBeLessThanOrEqual(before[i].ttl);
    expect(ttl).toBeGreaterThanOrEqual(before[i].ttl - 5);
  });
}

async function trailTypes(h: Harness, callSid: string): Promise<string[]> {
  const trail = await h.app.services.audit.verify(callSid);
  expect(trail.verified).toBe(true);
  return trail.entries.map((e) => e.type);
}

describe('a gather in two store round trips', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const gatherUrl = () => `${h.publicUrl}/twilio/gather/1/1`;

  async function newCall(callSid: string, to = SUPPORT_NUMBER): Promise<void> {
    const r = await h.emulator.signedPost(h.voiceUrl, params(callSid, to, { CallStatus: 'ringing' }));
    expect(r.body).toContain('/twilio/gather/1/1');
  }

  /** the vault's envelopes of captured values for the call, by its token index (but the caller's number, sealed with the call) */
  const vaultTokens = async (callSid: string) => {
    const from = (await h.app.services.calls.get(callSid))?.fromToken;
    return (await h.app.services.store.smembers(h.app.services.keys.vaultIndex(callSid))).filter((t) => t !== from);
  };

  test('is two commands (the claim reading the call, the write with its answer); its replay is one and changes nothing', async () => {
    const callSid = sid('1');
    await newCall(callSid);
    let first = { status: 0, body: '' };
    const sent = await roundTrips(h, callSid, async () => {
      first = await h.emulator.signedPost(gatherUrl(), params(callSid, SUPPORT_NUMBER, { Digits: DOB }));
    });
    expect(first.status).toBe(200);
    expect(first.body).toContain('<Dial');
    expect(named(sent)).toEqual(['script', 'script']);

    const { calls, vault, audit } = h.app.services;
    const session = await calls.get(callSid);
    expect(session).toMatchObject({ state: 'dialed', fields: { dob: { valid: true } } });
    expect(await vault.get(callSid, 'dob', session!.fields.dob.token!)).toBe(DOB);
    expect(await trailTypes(h, callSid)).toEqual(['call.started', 'field.collected', 'handoff']);
    // the value only as an envelope: no key holds it in plain
    expect((await h.scan()).filter((k) => k.content.includes(DOB))).toEqual([]);

    const keysBefore = await h.scan();
    let again = { status: 0, body: '' };
    const replayed = await roundTrips(h, callSid, async () => {
      // a resend with the parameters cut otherwise, and other digits: the same request by meaning
      again = await h.emulator.signedPost(gatherUrl(), params(callSid, SUPPORT_NUMBER, { Digits: '02021990', CalledCity: 'Springfield' }));
    });
    expect(again.body).toBe(first.body);
    expect(replayed).toHaveLength(1);
    expect(await calls.get(callSid)).toEqual(session);
    expect((await audit.list(callSid)).length).toBe(3);
    expectUnchanged(await h.scan(), keysBefore);
  });

  test('concurrent copies of one gather apply its step once, and every copy gets its answer', async () => {
    const callSid = sid('2');
    await newCall(callSid);
    const answers = await Promise.all(Array.from({ length: 5 }, () => h.emulator.signedPost(gatherUrl(), params(callSid, SUPPORT_NUMBER, { Digits: DOB }))));
    expect(answers[0].body).toContain('<Dial');
    for (const a of answers) expect(a.body).toBe(answers[0].body);
    expect(await trailTypes(h, callSid)).toEqual(['call.started', 'field.collected', 'handoff']);
    // one date of birth sealed
    expect(await vaultTokens(callSid)).toHaveLength(1);
    expect((await h.app.services.calls.get(callSid))?.state).toBe('dialed');
  });

  test('a store failure at the write answers the safe TwiML, writes nothing of the step, and lets the retry run it', async () => {
    const callSid = sid('3');
    await newCall(callSid);
    const before = await h.app.services.calls.get(callSid);
    const store = h.app.services.store;
    const write = jest.spyOn(store, 'compareAndSetAll').mockRejectedValueOnce(Errors.storeUnavailable());
    try {
      const during = await h.emulator.signedPost(gatherUrl(), params(callSid, SUPPORT_NUMBER, { Digits: DOB }));
      expect(during.status).toBe(200);
      expect(during.body).toMatch(/sorry/i);
      expect(during.body).toMatch(/<Dial|<Hangup/);
      expect(await h.app.services.calls.get(callSid)).toEqual(before);
      expect(await trailTypes(h, callSid)).toEqual(['call.started']);
      expect(await vaultTokens(callSid)).toEqual([]);

      // Twilio's retry: the claim was released, so the step runs now, once
      const retry = await h.emulator.signedPost(gatherUrl(), params(callSid, SUPPORT_NUMBER, { Digits: DOB }));
      expect(retry.body).toContain('<Dial');
      expect(write).toHaveBeenCalledTimes(2);
    } finally {
      write.mockRestore();
    }
    expect(await trailTypes(h, callSid)).toEqual(['call.started', 'field.collected', 'handoff']);
    expect(await vaultTokens(callSid)).toHaveLength(1);
  });

  test("a write refused because another instance changed the call meanwhile lands on that instance's change: nothing lost, the chain verifies", async () => {
    const callSid = sid('4');
    await newCall(callSid);
    const other = await startHarness({ keyPrefix: h.keyPrefix, emulator: h.emulator });
    const store = h.app.services.store;
    const real = store.compareAndSetAll.bind(store);
    const recordingSid = 'RE' + '4'.repeat(32);
    let raced = false;
    let answered = '';
    const write = jest.spyOn(store, 'compareAndSetAll').mockImplementation(async (records, ops) => {
      if (!raced) {
        raced = true;
        // between this webhook's claim and its write: another instance appends and saves
        await other.app.services.audit.append(callSid, { type: 'recording.status', leg: 'caller', recordingSid, twilioStatus: 'in-progress' });
        await other.app.services.calls.update(callSid, (s) => {
          s.recording.sid = recordingSid;
        });
      }
      return real(records, ops);
    });
    try {
      answered = (await h.emulator.signedPost(gatherUrl(), params(callSid, SUPPORT_NUMBER, { Digits: DOB }))).body;
      expect(answered).toContain('<Dial');
      expect(write).toHaveBeenCalledTimes(2);
    } finally {
      write.mockRestore();
      await other.close();
    }
    expect(await trailTypes(h, callSid)).toEqual(['call.started', 'recording.status', 'field.collected', 'handoff']);
    const session = await h.app.services.calls.get(callSid);
    expect(session).toMatchObject({ state: 'dialed', recording: { sid: recordingSid }, fields: { dob: { valid: true } } });
    // the answer was remembered with the write that landed
    expect((await h.emulator.signedPost(gatherUrl(), params(callSid, SUPPORT_NUMBER, { Digits: DOB }))).body).toBe(answered);
  });

  test('a recording paused mid-step (its entry appended at once) costs the write no refusal', async () => {
    const callSid = sid('5');
    await newCall(callSid, PAYMENTS_NUMBER);
    let r = { status: 0, body: '' };
    const sent = await roundTrips(h, callSid, async () => {
      // the menu: the next field is sensitive, so the recording is paused before it is asked
      r = await h.emulator.signedPost(gatherUrl(), params(callSid, PAYMENTS_NUMBER, { Digits: '1' }));
    });
    expect(r.body).toContain('/twilio/gather/2/1');
    // the claim, the controller's append of the pause, the write: no second try of the write
    expect(sent).toHaveLength(3);
    expect(await trailTypes(h, callSid)).toEqual(['call.started', 'recording.paused', 'field.collected']);
    expect((await h.app.services.calls.get(callSid))?.recording.status).toBe('paused');
  });

  test('a bridge handoff writes its stream token with the step', async () => {
    const r = await startHarness({ flowsDir: path.join(__dirname, '../fixtures/flows-replay') });
    try {
      const callSid = sid('6');
      const number = '+15005550098';
      const voice = await r.emulator.signedPost(r.voiceUrl, params(callSid, number, { CallStatus: 'ringing' }));
      const action = /action="([^"]+)"/.exec(voice.body)![1];
      let body = '';
      const sent = await roundTrips(r, callSid, async () => {
        body = (await r.emulator.signedPost(action, params(callSid, number, { Digits: '12345678' }))).body;
      });
      // the claim, the write, and the offer to the agents (pub/sub)
      expect(named(sent)).toEqual(['script', 'script', 'publish']);
      const token = /\/media\/([A-Za-z0-9_-]+)/.exec(body)?.[1];
      expect(await r.app.services.tokens.peek(token!)).toMatchObject({ callSid, leg: 'caller' });
      expect((await r.app.services.calls.get(callSid))?.state).toBe('offered');
    } finally {
      await r.close();
    }
  });
});

describe('the second entry of a matching pair in two store round trips', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ flowsDir: path.join(__dirname, '../fixtures/flows-confirm') });
  });
  afterAll(async () => h.close());

  const NUMBER = '+15005550096';
  const ACCOUNT = '20481632';

  /** a new call's first entry keyed: the URL of its second (the confirm action) */
  async function firstEntered(callSid: string): Promise<string> {
    const voice = await h.emulator.signedPost(h.voiceUrl, params(callSid, NUMBER, { CallStatus: 'ringing' }));
    const first = /action="([^"]+)"/.exec(voice.body)![1];
    const asked = await h.emulator.signedPost(first, params(callSid, NUMBER, { Digits: `${ACCOUNT}#` }));
    const confirm = /action="([^"]+)"/.exec(asked.body)![1];
    expect(confirm).toMatch(/\/twilio\/gather\/0\/1\/confirm$/);
    return confirm;
  }

  test('is the claim (reading the call and the sealed first entry) and the write; its replay is one and changes nothing', async () => {
    const callSid = sid('c');
    const confirmUrl = await firstEntered(callSid);
    const pending = (await h.app.services.calls.get(callSid))!.pendingMatch!;
    const first = await postCounted(h, callSid, confirmUrl, params(callSid, NUMBER, { Digits: `${ACCOUNT}#` }));
    expect(first.body).toContain('<Dial');
    // before: the claim, the first entry's envelope read on its own (GET), the write
    expect(named(first.sent)).toEqual(['script', 'script']);
    expect(first.sent[0]).toContain(h.app.services.keys.vault(pending.token));

    const { calls, vault } = h.app.services;
    const session = await calls.get(callSid);
    expect(session).toMatchObject({ state: 'dialed', fields: { account: { valid: true, token: pending.token } } });
    expect(session?.pendingMatch).toBeUndefined();
    expect(await vault.get(callSid, 'account', pending.token)).toBe(ACCOUNT);
    expect(await trailTypes(h, callSid)).toEqual(['call.started', 'field.collected', 'handoff']);
    expect((await h.scan()).filter((k) => k.content.includes(ACCOUNT))).toEqual([]);

    const keysBefore = await h.scan();
    const again = await postCounted(h, callSid, confirmUrl, params(callSid, NUMBER, { Digits: '99999999#', CalledCity: 'Springfield' }));
    expect(again.body).toBe(first.body);
    expect(again.sent).toHaveLength(1);
    expect(await calls.get(callSid)).toEqual(session);
    expectUnchanged(await h.scan(), keysBefore);
  });

  test('a mismatch erases the first entry in the same write and asks again', async () => {
    const callSid = sid('d');
    const confirmUrl = await firstEntered(callSid);
    const pending = (await h.app.services.calls.get(callSid))!.pendingMatch!;
    const r = await postCounted(h, callSid, confirmUrl, params(callSid, NUMBER, { Digits: '11112222#' }));
    expect(named(r.sent)).toEqual(['script', 'script']);
    expect(r.body).toContain('/twilio/gather/0/2"');
    expect(await h.redisStore!.get(h.app.services.keys.vault(pending.token))).toBeNull();
    expect(await h.app.services.calls.get(callSid)).toMatchObject({ step: 0, attempt: 2, lastError: 'input-matching-failed' });
    expect(await trailTypes(h, callSid)).toEqual(['call.started']);
  });

  test('a store failure at the write answers the safe TwiML and keeps the first entry; the retry runs the step once, in two round trips', async () => {
    const callSid = sid('e');
    const confirmUrl = await firstEntered(callSid);
    const before = await h.app.services.calls.get(callSid);
    const write = jest.spyOn(h.app.services.store, 'compareAndSetAll').mockRejectedValueOnce(Errors.storeUnavailable());
    let retry = { status: 0, body: '', sent: [] as string[][] };
    try {
      const during = await h.emulator.signedPost(confirmUrl, params(callSid, NUMBER, { Digits: `${ACCOUNT}#` }));
      expect(during.body).toMatch(/sorry/i);
      expect(await h.app.services.calls.get(callSid)).toEqual(before);
      expect(await h.app.services.vault.get(callSid, 'account', before!.pendingMatch!.token)).toBe(ACCOUNT);
      expect(await trailTypes(h, callSid)).toEqual(['call.started']);

      retry = await postCounted(h, callSid, confirmUrl, params(callSid, NUMBER, { Digits: `${ACCOUNT}#` }));
      expect(named(retry.sent)).toEqual(['script', 'script']);
      expect(write).toHaveBeenCalledTimes(2);
    } finally {
      write.mockRestore();
    }
    expect(retry.body).toContain('<Dial');
    expect(await trailTypes(h, callSid)).toEqual(['call.started', 'field.collected', 'handoff']);
    expect((await h.app.services.calls.get(callSid))?.fields.account).toMatchObject({ valid: true, token: before!.pendingMatch!.token });
  });

  test('a first entry sealed under a random token (by an older instance) is read after the claim: three round trips, the same answer', async () => {
    const callSid = sid('f');
    const confirmUrl = await firstEntered(callSid);
    const { calls, vault } = h.app.services;
    const older = await vault.put(callSid, 'account', ACCOUNT);
    await calls.update(callSid, (s) => {
      s.pendingMatch = { step: 0, token: older };
    });
    const r = await postCounted(h, callSid, confirmUrl, params(callSid, NUMBER, { Digits: `${ACCOUNT}#` }));
    expect(named(r.sent)).toEqual(['script', 'get', 'script']);
    expect(r.body).toContain('<Dial');
    expect((await calls.get(callSid))?.fields.account).toMatchObject({ valid: true, token: older });
  });
});

describe('status callbacks in two store round trips', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function dialedCall(callSid: string): Promise<void> {
    await h.emulator.signedPost(h.voiceUrl, params(callSid, SUPPORT_NUMBER, { CallStatus: 'ringing' }));
    expect((await h.emulator.signedPost(`${h.publicUrl}/twilio/gather/1/1`, params(callSid, SUPPORT_NUMBER, { Digits: DOB }))).body).toContain('<Dial');
  }

  test("a call's end is the claim and one write with its entry and answer, then the event; a replay changes nothing", async () => {
    const callSid = sid('8');
    await dialedCall(callSid);
    let r = { status: 0, body: '' };
    const sent = await roundTrips(h, callSid, async () => {
      r = await h.emulator.signedPost(h.statusUrl, params(callSid, SUPPORT_NUMBER, { CallStatus: 'completed' }));
    });
    expect(r.status).toBe(204);
    // then the event, and nothing more: a plain call has no drop-in watch to check (only a
    // drop-in capture's call goes to dropin/service.ts callEnded). Before: the claim, the
    // session's read, compare-and-set and TTL, and the append came before the event, the
    // drop-in check after it for every call, and the remember last
    expect(named(sent)).toEqual(['script', 'script', 'publish']);
    const session = await h.app.services.calls.get(callSid);
    expect(session).toMatchObject({ state: 'ended', fields: { dob: { valid: true } } });
    expect(session?.endedAt).toEqual(expect.any(Number));
    expect(await h.app.services.store.ttl(h.app.services.keys.call(callSid))).toBeLessThanOrEqual(ENDED_CALL_TTL_SECONDS);
    const trail = await h.app.services.audit.verify(callSid);
    expect(trail.verified).toBe(true);
    expect(trail.entries.map((e) => e.type)).toEqual(['call.started', 'field.collected', 'handoff', 'call.ended']);

    const replayed = await roundTrips(h, callSid, async () => {
      expect((await h.emulator.signedPost(h.statusUrl, params(callSid, SUPPORT_NUMBER, { CallStatus: 'completed' }))).status).toBe(204);
    });
    expect(replayed).toHaveLength(1);
    expect(await h.app.services.calls.get(callSid)).toEqual(session);
    expect(await h.app.services.audit.list(callSid)).toHaveLength(4);
  });

  test('concurrent copies of a status callback end the call once', async () => {
    const callSid = sid('9');
    await dialedCall(callSid);
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => h.emulator.signedPost(h.statusUrl, params(callSid, SUPPORT_NUMBER, { CallStatus: 'completed' }))),
    );
    for (const a of answers) expect(a.status).toBe(204);
    const trail = await h.app.services.audit.verify(callSid);
    expect(trail.verified).toBe(true);
    expect(trail.entries.filter((e) => e.type === 'call.ended')).toHaveLength(1);
  });

  test("a recording's status is the claim and one write: the recording named on the session, the entry on the trail", async () => {
    const callSid = sid('a');
    await dialedCall(callSid);
    const recordingSid = 'RE' + 'a'.repeat(32);
    let r = { status: 0, body: '' };
    const sent = await roundTrips(h, callSid, async () => {
      r = await h.emulator.signedPost(
        `${h.publicUrl}/twilio/recording-status`,
        params(callSid, SUPPORT_NUMBER, { RecordingSid: recordingSid, RecordingStatus: 'in-progress' }),
      );
    });
    expect(r.status).toBe(204);
    expect(named(sent)).toEqual(['script', 'script']);
    expect((await h.app.services.calls.get(callSid))?.recording).toMatchObject({ sid: recordingSid, status: 'in-progress' });
    const trail = await h.app.services.audit.verify(callSid);
    expect(trail.verified).toBe(true);
    expect(trail.entries.map((e) => e.type)).toEqual(['call.started', 'field.collected', 'handoff', 'recording.status']);
  });

  test('a store failure at the write answers 204 and writes nothing; the retry ends the call', async () => {
    const callSid = sid('b');
    await dialedCall(callSid);
    const write = jest.spyOn(h.app.services.store, 'compareAndSetAll').mockRejectedValueOnce(Errors.storeUnavailable());
    try {
      expect((await h.emulator.signedPost(h.statusUrl, params(callSid, SUPPORT_NUMBER, { CallStatus: 'completed' }))).status).toBe(204);
      expect((await h.app.services.calls.get(callSid))?.state).toBe('dialed');
      expect((await h.app.services.audit.list(callSid)).map((e) => e.type)).not.toContain('call.ended');
      expect((await h.emulator.signedPost(h.statusUrl, params(callSid, SUPPORT_NUMBER, { CallStatus: 'completed' }))).status).toBe(204);
    } finally {
      write.mockRestore();
    }
    expect((await h.app.services.calls.get(callSid))?.state).toBe('ended');
    expect((await h.app.services.audit.verify(callSid)).entries.filter((e) => e.type === 'call.ended')).toHaveLength(1);
  });
});

describe('a gather on the embedded store', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ store: 'embedded' });
  });
  afterAll(async () => h.close());

  test('is answered, applied once for concurrent copies, replayed from memory, and its trail verifies', async () => {
    const callSid = sid('7');
    await h.emulator.signedPost(h.voiceUrl, params(callSid, SUPPORT_NUMBER, { CallStatus: 'ringing' }));
    const url = `${h.publicUrl}/twilio/gather/1/1`;
    const answers = await Promise.all(Array.from({ length: 3 }, () => h.emulator.signedPost(url, params(callSid, SUPPORT_NUMBER, { Digits: DOB }))));
    expect(answers[0].body).toContain('<Dial');
    for (const a of answers) expect(a.body).toBe(answers[0].body);
    const trail = await h.app.services.audit.verify(callSid);
    expect(trail.verified).toBe(true);
    expect(trail.entries.map((e) => e.type)).toEqual(['call.started', 'field.collected', 'handoff']);
    expect((await h.emulator.signedPost(url, params(callSid, SUPPORT_NUMBER, { Digits: DOB }))).body).toBe(answers[0].body);
  });
});
