/**
 * Callers who withhold their number, through the real app and the project's Twilio emulator:
 * Twilio sends each of them the same placeholder `From`, so filing their calls under it would
 * make them one subject, each one's access or erasure reaching all the others'. Their calls are
 * filed under no subject, their placeholder is not kept, and a subject request for it says why
 * it names no one.
 */
import { TokenAuth } from '../../../src/auth/tokens';
import type { CallEvent } from '../../../src/bus';
import { startHarness, SUPPORT_NUMBER, waitFor, WEBHOOK_CALLER, webhookParams, type Harness } from '../../support/harness';

const ANONYMOUS = '+266696687';

describe('callers who withhold their number', () => {
  let h: Harness;
  let admin: string;
  beforeAll(async () => {
    h = await startHarness();
    admin = new TokenAuth(h.config.agentJwtSecret).sign({ sub: 'dpo', endpoint: 'client:dpo', role: 'admin' });
  });
  afterAll(async () => h.close());

  async function call(callSid: string, from: string): Promise<void> {
    const first = await h.emulator.signedPost(h.voiceUrl, webhookParams(callSid, SUPPORT_NUMBER, { CallStatus: 'ringing', From: from }));
    expect(first.status).toBe(200);
    expect(await h.app.services.calls.get(callSid)).not.toBeNull();
  }

  const subjectRequest = (method: 'GET' | 'DELETE', phone: string) =>
    fetch(`${h.url}/v1/subjects/${encodeURIComponent(phone)}`, { method, headers: { authorization: `Bearer ${admin}` } });

  test('are not linked to each other, and a subject request for the placeholder answers 422 and touches none of them', async () => {
    const { keys, calls, store } = h.app.services;
    const withheld = ['CA' + 'c1'.repeat(16), 'CA' + 'c2'.repeat(16), 'CA' + 'c3'.repeat(16)];
    await call(withheld[0], ANONYMOUS);
    await call(withheld[1], ANONYMOUS);
    await call(withheld[2], 'anonymous');
    const own = 'CA' + 'c4'.repeat(16);
    await call(own, WEBHOOK_CALLER);

    for (const sid of withheld) {
      const s = await calls.get(sid);
      expect(s?.subject).toBeUndefined();
      expect(s?.fromToken).toBeUndefined();
      expect(await store.smembers(keys.vaultIndex(sid))).toEqual([]);
    }
    // the one subject in the store is the caller who gave their number, naming their call only
    const subjects = (await h.scan()).filter(({ key }) => key.startsWith(keys.subject('')));
    expect(subjects.map((k) => k.content)).toEqual([own]);
    expect((await h.scan()).filter(({ content }) => content.includes(ANONYMOUS.slice(1)))).toEqual([]);

    for (const method of ['GET', 'DELETE'] as const) {
      for (const placeholder of [ANONYMOUS, '+7378742833', '+2562533', '+8656696', '+86282452253']) {
        const res = await subjectRequest(method, placeholder);
        expect(res.status).toBe(422);
        const body = (await res.json()) as { error: string; message: string };
        expect(body.error).toBe('TW_ERR_PRIVACY_SUBJECT_WITHHELD');
        expect(body.message).toMatch(/placeholder for a withheld caller ID and identifies no one/);
      }
    }
    for (const sid of withheld) expect(await calls.get(sid)).not.toBeNull();

    // the caller who gave their number is found and erased alone
    const access = (await (await subjectRequest('GET', WEBHOOK_CALLER)).json()) as { calls: { callSid: string }[] };
    expect(access.calls.map((c) => c.callSid)).toEqual([own]);
    const erased = (await (await subjectRequest('DELETE', WEBHOOK_CALLER)).json()) as { calls: number };
    expect(erased.calls).toBe(1);
    expect(await calls.get(own)).toBeNull();
    for (const sid of withheld) expect(await calls.get(sid)).not.toBeNull();
  });
});

describe('a caller who withholds their number, handed off in bridge mode', () => {
  const OFFERED = '+15005550031';
  let h: Harness;
  const events: CallEvent[] = [];
  beforeAll(async () => {
    // no steps and no handoff.to: the call is offered to the connected agents at once
    h = await startHarness({ flows: { offered: `id: offered\nnumbers: ["${OFFERED}"]\nsteps: []\nhandoff:\n  mode: bridge\n` } });
    await h.app.services.events.subscribe((e) => events.push(e));
  });
  afterAll(async () => h.close());

  test.each([ANONYMOUS, 'anonymous'])("is offered to agents as 'withheld' (%p), not dropped with the apology", async (from) => {
    const call = await h.emulator.placeCall({ from, to: OFFERED, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl, onGather: () => null });
    try {
      await waitFor(() => call.transcript.some((t) => t.verb === 'Connect/Stream'), 'the bridge handoff', 10000);
      const offered = await waitFor(() => events.find((e) => e.type === 'handoff.offered' && e.callSid === call.sid), 'handoff.offered');
      expect(offered).toMatchObject({ from: 'withheld' });
      expect((await h.app.services.calls.get(call.sid))?.state).toBe('offered');
      expect(call.transcript.map((t) => t.verb)).not.toContain('Hangup');
    } finally {
      await call.hangup().catch(() => undefined);
    }
  });
});
