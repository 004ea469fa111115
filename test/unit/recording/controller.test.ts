/**
 * The recording controller on its own, with an in-memory REST client in Twilio's shape
 * (`calls(sid).recordings(sid).update(params)`) whose answers each test scripts. A pause counts
 * only when Twilio acknowledged it; everything else fails closed.
 */
import pino from 'pino';
import RestException from 'twilio/lib/base/RestException';
import type { CallSession } from '../../../src/calls/session';
import { advance } from '../../../src/flows/engine';
import { parseFlow } from '../../../src/flows/load';
import { PAUSE_ACK_TIMEOUT_MS, RecordingController, type AuditSink } from '../../../src/recording/controller';
import type { TwilioClient } from '../../../src/twilio/rest';

type Status = 'paused' | 'in-progress' | 'stopped';
/**
 * 'held': answered ok only when the test releases it (Twilio's late acknowledgement). A number is
 * Twilio's answer with that status and its error JSON (404: 20404, Twilio's not-found); 'bare404'
 * a 404 with an HTML body (a proxy's page); 'json404' one whose JSON is not Twilio's error
 */
type Answer = 'ok' | number | 'network' | 'never' | 'held' | 'bare404' | 'json404';

interface Update {
  callSid: string;
  recordingSid: string;
  params: { status: Status; pauseBehavior?: string };
}

const CALL = 'CA' + '1'.repeat(32);
const REC = 'RE' + '2'.repeat(32);

/** an answer for every recording, one per recording SID (unnamed: 'ok'), or one per request in turn (the last for any after) */
type Answers = Partial<Record<Status, Answer | Answer[] | Record<string, Answer>>>;

/** Twilio's REST surface as far as the controller uses it; answers per requested status */
function fakeTwilio(answers: Answers, listed?: Listed) {
  const updates: Update[] = [];
  const held: Array<() => void> = [];
  const lists: string[] = [];
  const client = {
    calls: (callSid: string) => ({
      recordings: Object.assign(
        (recordingSid: string) => ({
          update(params: Update['params']): Promise<{ sid: string; status: string }> {
            updates.push({ callSid, recordingSid, params });
            const given = answers[params.status] ?? 'ok';
            const nth = updates.filter((u) => u.params.status === params.status).length - 1;
            const a = Array.isArray(given) ? given[Math.min(nth, given.length - 1)] : typeof given === 'object' ? (given[recordingSid] ?? 'ok') : given;
            if (a === 'ok') return Promise.resolve({ sid: recordingSid === 'Twilio.CURRENT' ? REC : recordingSid, status: params.status });
            if (a === 'never') return new Promise(() => undefined);
            if (a === 'held') return new Promise((resolve) => held.push(() => resolve({ sid: recordingSid, status: params.status })));
            if (a === 'network') return Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
            if (a === 'bare404') return Promise.reject(new RestException({ statusCode: 404, body: '<html><body>Not Found</body></html>' }));
            // JSON, but not Twilio's error: another API's not-found, a proxy's JSON page
            if (a === 'json404') return Promise.reject(new RestException({ statusCode: 404, body: JSON.stringify({ error: 'not found', code: 'NotFound' }) }));
            const code = a === 404 ? 20404 : 20001;
            return Promise.reject(new RestException({ statusCode: a, body: JSON.stringify({ code, message: 'refused', status: a }) }));
          },
        }),
        {
          // the call's recordings as Twilio lists them; a test that gives none has a client that cannot list (a 404 of its own)
          list(): Promise<Array<{ sid: string; status: string }>> {
            lists.push(callSid);
            if (listed === undefined || listed === 'fail')
              return Promise.reject(new RestException({ statusCode: 404, body: JSON.stringify({ code: 20404, message: 'not found', status: 404 }) }));
            return Promise.resolve(listed);
          },
        },
      ),
    }),
  };
  return { client: client as unknown as TwilioClient, updates, held, lists };
}

/** what a list of the call's recordings answers: its recordings, or a failure */
type Listed = Array<{ sid: string; status: string }> | 'fail';

function setup(answers: Answers, pauseTimeoutMs?: number, opts: { auditFails?: (type: string) => boolean; restVerified?: boolean; listed?: Listed } = {}) {
  const logLines: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  const twilio = fakeTwilio(answers, opts.listed);
  const audit: { callSid: string; type: string; [k: string]: unknown }[] = [];
  const sink: AuditSink = {
    append: async (callSid, entry) => {
      if (opts.auditFails?.(entry.type)) throw new Error('store down');
      audit.push({ callSid, ...entry });
    },
  };
  const counts = { pauseFailures: 0, resumeFailures: 0, pauses: [] as string[] };
  /** tonewall_recording_update_seconds: each pause and resume timed to Twilio's answer */
  const timed: { action: string; outcome: string; seconds: number }[] = [];
  const metrics = {
    pauseFailures: { inc: () => void counts.pauseFailures++ },
    resumeFailures: { inc: () => void counts.resumeFailures++ },
    pauses: { inc: (l: { outcome: string }) => void counts.pauses.push(l.outcome) },
    updateSeconds: { observe: (l: { action: string; outcome: string }, seconds: number) => void timed.push({ ...l, seconds }) },
  };
  const controller = new RecordingController({
    client: twilio.client,
    publicUrl: 'https://ivr.example.com',
    restVerified: () => opts.restVerified ?? true,
    audit: sink,
    log,
    metrics,
    pauseTimeoutMs,
  });
  return { controller, updates: twilio.updates, held: twilio.held, lists: twilio.lists, audit, counts, timed, logLines };
}

describe('pause', () => {
  test("acknowledged by Twilio: ok, with pauseBehavior skip, audited with Twilio's answer", async () => {
    const { controller, updates, audit, counts } = setup({ paused: 'ok' });
    const o = await controller.pause(CALL, REC);
    expect(o).toEqual({ ok: true, twilioStatus: '200', recordingSid: REC });
    expect(updates).toEqual([{ callSid: CALL, recordingSid: REC, params: { status: 'paused', pauseBehavior: 'skip' } }]);
    expect(audit).toEqual([expect.objectContaining({ callSid: CALL, type: 'recording.paused', twilioStatus: '200', recordingSid: REC })]);
    expect(counts).toEqual({ pauseFailures: 0, resumeFailures: 0, pauses: ['ok'] });
  });

  test("without a known recording SID it pauses Twilio's current recording", async () => {
    const { controller, updates } = setup({});
    expect((await controller.pause(CALL)).recordingSid).toBe(REC);
    expect(updates[0].recordingSid).toBe('Twilio.CURRENT');
  });

  test.each([
    [500, '500'],
    [400, '400'],
    ['network', 'network'],
  ] as const)('refused or unreachable (%s): not ok, counted and audited as a failure', async (answer, twilioStatus) => {
    const { controller, audit, counts } = setup({ paused: answer });
    const o = await controller.pause(CALL, REC);
    expect(o).toMatchObject({ ok: false, twilioStatus });
    expect(audit.map((a) => a.type)).toEqual(['recording.pause-failed']);
    expect(counts).toEqual({ pauseFailures: 1, resumeFailures: 0, pauses: ['failed'] });
  });

  test('not acknowledged within the timeout: not ok (timeout), though Twilio might still pause it later', async () => {
    jest.useFakeTimers();
    try {
      const { controller, audit } = setup({ paused: 'never' });
      const pending = controller.pause(CALL, REC);
      let settled = false;
      void pending.then(() => (settled = true));
      await jest.advanceTimersByTimeAsync(PAUSE_ACK_TIMEOUT_MS - 1);
      expect(settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      expect(await pending).toMatchObject({ ok: false, twilioStatus: 'timeout' });
      expect(audit.map((a) => a.type)).toEqual(['recording.pause-failed']);
    } finally {
      jest.useRealTimers();
    }
  });

  test('the configured pause timeout replaces the default', async () => {
    jest.useFakeTimers();
    try {
      const { controller } = setup({ paused: 'never' }, 100);
      const pending = controller.pause(CALL, REC);
      await jest.advanceTimersByTimeAsync(100);
      expect(await pending).toMatchObject({ ok: false, twilioStatus: 'timeout' });
    } finally {
      jest.useRealTimers();
    }
  });

  test("Twilio's 404 with 20404 (no recording is active, so nothing can be recorded): ok and marked absent", async () => {
    const { controller, counts } = setup({ paused: 404 });
    expect(await controller.pause(CALL, REC)).toEqual({ ok: true, twilioStatus: '404', absent: true, recordingSid: REC });
    expect(counts.pauseFailures).toBe(0);
  });

  test.each(['bare404', 'json404'] as const)(
    "a 404 that is not Twilio's not-found (%s: no 20404 in Twilio's error JSON): not ok, counted and audited as a failure",
    async (answer) => {
      const { controller, audit, counts, logLines } = setup({ paused: answer });
      expect(await controller.pause(CALL, REC)).toEqual({ ok: false, twilioStatus: '404', recordingSid: REC });
      expect(audit.map((a) => [a.type, a.twilioStatus, a.absent])).toEqual([['recording.pause-failed', '404', undefined]]);
      expect(counts).toEqual({ pauseFailures: 1, resumeFailures: 0, pauses: ['failed'] });
      // the code is logged only when it is a number (Twilio's): nothing else of a body that is not Twilio's
      expect(logLines.find((l) => String(l.msg).startsWith('a 404 not known'))).toMatchObject({ twilioCode: null, restVerified: true });
    },
  );

  test("Twilio's 20404 before the REST configuration was verified (it may answer a doubled or misnamed path): not ok", async () => {
    const { controller, audit, counts, logLines } = setup({ paused: 404 }, undefined, { restVerified: false });
    expect(await controller.pause(CALL, REC)).toEqual({ ok: false, twilioStatus: '404', recordingSid: REC });
    expect(audit.map((a) => a.type)).toEqual(['recording.pause-failed']);
    expect(counts.pauseFailures).toBe(1);
    expect(logLines.find((l) => String(l.msg).startsWith('a 404 not known'))).toMatchObject({ twilioCode: 20404, restVerified: false });
  });

  describe("a 404 not proven Twilio's (the REST configuration not verified, or no 20404): the call's recordings are listed", () => {
    const OTHER = 'RE' + '4'.repeat(32);
    test.each([
      ['the recording listed as completed', { restVerified: false }, 404, REC, [{ sid: REC, status: 'completed' }]],
      ['no recording listed at all, Twilio.CURRENT paused', { restVerified: false }, 404, undefined, []],
      ['a bare 404, the recording listed as stopped', { restVerified: true }, 'bare404', REC, [{ sid: REC, status: 'stopped' }]],
      ['only another recording, and it is completed (Twilio.CURRENT)', { restVerified: false }, 404, undefined, [{ sid: OTHER, status: 'completed' }]],
    ] as const)('%s: absent, as nothing is recording', async (_what, opts, answer, sid, listed) => {
      const { controller, audit, counts, lists, logLines } = setup({ paused: answer }, undefined, { ...opts, listed: [...listed] });
      expect(await controller.pause(CALL, sid)).toEqual({ ok: true, twilioStatus: '404', absent: true, recordingSid: sid });
      expect(lists).toEqual([CALL]);
      expect(audit.map((a) => a.type)).toEqual(['recording.paused']);
      expect(counts.pauseFailures).toBe(0);
      expect(logLines.some((l) => String(l.msg).startsWith('a 404 not known'))).toBe(false);
    });

    test.each([
      ['the recording listed in progress (a proxy answering the updates itself)', REC, [{ sid: REC, status: 'in-progress' }]],
      ['the recording listed paused', REC, [{ sid: REC, status: 'paused' }]],
      ['Twilio.CURRENT, another recording listed in progress', undefined, [{ sid: OTHER, status: 'in-progress' }]],
      ['the list refused too (a doubled path, a proxy, another account)', REC, 'fail'],
    ] as const)('%s: a failure, the field is not asked', async (_what, sid, listed) => {
      const { controller, audit, counts, lists } = setup({ paused: 404 }, undefined, { restVerified: false, listed: listed === 'fail' ? 'fail' : [...listed] });
      expect(await controller.pause(CALL, sid)).toEqual({ ok: false, twilioStatus: '404', recordingSid: sid });
      expect(lists).toEqual([CALL]);
      expect(audit.map((a) => a.type)).toEqual(['recording.pause-failed']);
      expect(counts.pauseFailures).toBe(1);
    });

    test("Twilio's 20404 with the configuration verified is believed without a list", async () => {
      const { controller, lists } = setup({ paused: 404 }, undefined, { restVerified: true, listed: [{ sid: REC, status: 'in-progress' }] });
      expect(await controller.pause(CALL, REC)).toMatchObject({ ok: true, absent: true });
      expect(lists).toEqual([]);
    });
  });

  test('a stop answered with a bare 404 is not taken as stopped: it is paused for good instead, and that bare 404 fails too', async () => {
    const { controller, updates } = setup({ stopped: 'bare404', paused: 'bare404' });
    expect(await controller.stop(CALL, REC)).toMatchObject({ ok: false, twilioStatus: '404' });
    expect(updates.map((u) => u.params.status)).toEqual(['stopped', 'paused']);
  });

  test("a bridge's agent call is paused on its own SID and audited on the caller's call", async () => {
    const agentCall = 'CA' + '3'.repeat(32);
    const { controller, updates, audit } = setup({});
    await controller.pause(agentCall, REC, CALL);
    expect(updates[0].callSid).toBe(agentCall);
    expect(audit[0].callSid).toBe(CALL);
  });
});

describe('the flow, fed what the controller answered, asks for no sensitive field unless the pause took', () => {
  const flow = parseFlow(
    'pay.yaml',
    `
id: pay
numbers: ["+15005550006"]
record: true
steps:
  - collect: card
    kind: card-number
    prompt: card please
handoff:
  mode: dial
  to: "client:alice"
`,
  );
  const session = (): CallSession => ({
    callSid: CALL,
    accountSid: 'AC' + '0'.repeat(32),
    flowId: 'pay',
    to: '+15005550006',
    fromMasked: '+*******4567',
    subject: 'x',
    state: 'ivr',
    step: 0,
    attempt: 1,
    recording: { sid: REC, status: 'in-progress' },
    fields: {},
    handoff: { mode: 'dial', to: 'client:alice' },
    createdAt: 0,
    updatedAt: 0,
  });

  // what the IVR does with a pause effect (src/twilio/effects.ts): pause, then advance with its outcome
  async function afterPause(answer: Answer) {
    const { controller } = setup({ paused: answer });
    const now = new Date('2026-12-01T12:00:00Z');
    const r1 = advance(flow, { kind: 'start' }, session(), { now });
    expect(r1.effect).toEqual({ kind: 'pause-recording' });
    const outcome = await controller.pause(CALL, REC);
    return advance(flow, { kind: 'recording', op: 'pause', ok: outcome.ok }, r1.session, { now });
  }

  test('acknowledged: paused, and the card is asked for', async () => {
    const r = await afterPause('ok');
    expect(r.session.recording.status).toBe('paused');
    expect(r.verbs).toContainEqual(expect.objectContaining({ verb: 'gather', field: 'card' }));
  });

  test.each([[503], ['network']] as const)('refused (%s): not paused, and the card is never asked for', async (answer) => {
    const r = await afterPause(answer);
    expect(r.session.recording.status).not.toBe('paused');
    expect(r.verbs.filter((v) => v.verb === 'gather')).toEqual([]);
    expect(r.session.fields.card).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
  });
});

describe('resume', () => {
  test('acknowledged: ok, status in-progress requested, audited', async () => {
    const { controller, updates, audit, counts } = setup({});
    expect(await controller.resume(CALL, REC)).toMatchObject({ ok: true });
    expect(updates.map((u) => u.params)).toEqual([{ status: 'in-progress' }]);
    expect(audit.map((a) => a.type)).toEqual(['recording.resumed']);
    expect(counts.resumeFailures).toBe(0);
  });

  test('refused (400: the call is not in progress, say): not ok, not tried again, audited as a failure and counted as one; no pause metric moves', async () => {
    const { controller, updates, audit, counts } = setup({ 'in-progress': 400 });
    expect(await controller.resume(CALL, REC)).toMatchObject({ ok: false, twilioStatus: '400' });
    expect(updates).toHaveLength(1);
    expect(audit.map((a) => a.type)).toEqual(['recording.resume-failed']);
    expect(counts).toEqual({ pauseFailures: 0, resumeFailures: 1, pauses: [] });
  });

  test.each([429, 500, 503])('refused %i (Twilio did not carry it out): tried again within its bound, ok, audited once with the tries', async (status) => {
    const { controller, updates, audit, counts } = setup({ 'in-progress': [status, status, 'ok'] });
    expect(await controller.resume(CALL, REC)).toMatchObject({ ok: true, twilioStatus: '200' });
    expect(updates.map((u) => [u.recordingSid, u.params.status])).toEqual([
      [REC, 'in-progress'],
      [REC, 'in-progress'],
      [REC, 'in-progress'],
    ]);
    expect(audit).toEqual([expect.objectContaining({ type: 'recording.resumed', twilioStatus: '200', tries: 3 })]);
    expect(counts.resumeFailures).toBe(0);
  });

  test('timed once, all its tries in one figure, as is a refused pause', async () => {
    const { controller, timed } = setup({ 'in-progress': [503, 'ok'], paused: 400 });
    await controller.resume(CALL, REC);
    await controller.pause(CALL, REC);
    expect(timed.map(({ action, outcome }) => [action, outcome])).toEqual([
      ['resume', 'ok'],
      ['pause', 'failed'],
    ]);
    // the resume waited out its retry's backoff: more than the pause's one refusal
    expect(timed[0].seconds).toBeGreaterThan(timed[1].seconds);
  });

  test('refused 503 every time: four tries within its bound, then a failure, audited and counted once', async () => {
    const { controller, updates, audit, counts, logLines } = setup({ 'in-progress': 503 });
    const t0 = Date.now();
    expect(await controller.resume(CALL, REC)).toMatchObject({ ok: false, twilioStatus: '503' });
    expect(Date.now() - t0).toBeLessThan(PAUSE_ACK_TIMEOUT_MS);
    expect(updates).toHaveLength(4);
    expect(audit).toEqual([expect.objectContaining({ type: 'recording.resume-failed', twilioStatus: '503', tries: 4 })]);
    expect(counts.resumeFailures).toBe(1);
    expect(logLines.filter((l) => l.msg === 'recording resume failed: it stays paused')).toHaveLength(1);
  });

  test("refused 429, then never answered: not tried a third time, and the unanswered try is reported with its age, not the first try's", async () => {
    jest.useFakeTimers();
    try {
      const { controller, updates } = setup({ 'in-progress': [429, 'never'] });
      const resume = controller.resume(CALL, REC);
      await jest.advanceTimersByTimeAsync(PAUSE_ACK_TIMEOUT_MS);
      const outcome = await resume;
      expect(outcome).toMatchObject({ ok: false, twilioStatus: 'timeout' });
      expect(updates).toHaveLength(2);
      // sent after the 429 and a wait, so younger than the bound: the next pause waits from its sending
      expect(outcome.unansweredSentMsAgo).toBeGreaterThan(0);
      expect(outcome.unansweredSentMsAgo).toBeLessThanOrEqual(PAUSE_ACK_TIMEOUT_MS);
    } finally {
      jest.useRealTimers();
    }
  });

  test('a pause asked for between two tries of a resume (a capture started meanwhile) is sent after the last try, so no try lands after it', async () => {
    jest.useFakeTimers();
    try {
      const { controller, updates } = setup({ 'in-progress': [503, 'ok'] });
      const resume = controller.resume(CALL, REC);
      await jest.advanceTimersByTimeAsync(0);
      expect(updates.map((u) => u.params.status)).toEqual(['in-progress']);
      // the first try refused; the second waits out its backoff
      const pause = controller.pause(CALL, REC);
      await jest.advanceTimersByTimeAsync(PAUSE_ACK_TIMEOUT_MS);
      expect(await resume).toMatchObject({ ok: true });
      expect(await pause).toMatchObject({ ok: true });
      expect(updates.map((u) => u.params.status)).toEqual(['in-progress', 'in-progress', 'paused']);
    } finally {
      jest.useRealTimers();
    }
  });

  test('answered, refused or absent: no unanswered try is reported', async () => {
    for (const answer of ['ok', 400, 404] as const) {
      const { controller } = setup({ 'in-progress': answer });
      expect((await controller.resume(CALL, REC)).unansweredSentMsAgo).toBeUndefined();
    }
  });

  test('answered after its timeout: the next pause is sent only once Twilio answered the resume, so the resume cannot land after it', async () => {
    jest.useFakeTimers();
    try {
      const { controller, updates, held } = setup({ 'in-progress': 'held' });
      const resume = controller.resume(CALL, REC);
      await jest.advanceTimersByTimeAsync(PAUSE_ACK_TIMEOUT_MS);
      expect(await resume).toMatchObject({ ok: false, twilioStatus: 'timeout' });
      // the next capture's pause, by the SID or by Twilio.CURRENT, while the resume is still out
      const pauses = [controller.pause(CALL, REC), controller.pause(CALL)];
      await jest.advanceTimersByTimeAsync(1_000);
      expect(updates.map((u) => u.params.status)).toEqual(['in-progress']);
      held[0]();
      await jest.advanceTimersByTimeAsync(0);
      expect(updates.map((u) => u.params.status)).toEqual(['in-progress', 'paused', 'paused']);
      for (const o of await Promise.all(pauses)) expect(o).toMatchObject({ ok: true });
    } finally {
      jest.useRealTimers();
    }
  });

  test('a resume Twilio never answers: the next pause is not sent and fails (closed) at its own bound', async () => {
    jest.useFakeTimers();
    try {
      const { controller, updates } = setup({ 'in-progress': 'never' });
      const resume = controller.resume(CALL, REC);
      await jest.advanceTimersByTimeAsync(PAUSE_ACK_TIMEOUT_MS);
      await resume;
      const pause = controller.pause(CALL, REC);
      await jest.advanceTimersByTimeAsync(PAUSE_ACK_TIMEOUT_MS);
      expect(await pause).toMatchObject({ ok: false, twilioStatus: 'timeout' });
      expect(updates.map((u) => u.params.status)).toEqual(['in-progress']);
    } finally {
      jest.useRealTimers();
    }
  });

  test('a resume of another recording on the call holds back no pause of this one', async () => {
    const { controller, updates, held } = setup({ 'in-progress': 'held' });
    const other = controller.resume(CALL, 'RE' + '3'.repeat(32));
    expect(await controller.pause(CALL, REC)).toMatchObject({ ok: true });
    expect(updates.map((u) => u.params.status)).toEqual(['in-progress', 'paused']);
    held[0]();
    await other;
  });
});

describe('pauseEach and resumeEach: several recordings on one call, each by its SID', () => {
  const A = 'RE' + 'a'.repeat(32);
  const B = 'RE' + 'b'.repeat(32);
  const C = 'RE' + 'c'.repeat(32);
  const requests = (updates: Update[]) => updates.map((u) => [u.recordingSid, u.params.status]);

  test('every one acknowledged: ok, each paused by its SID with skip, one after another, each audited', async () => {
    const { controller, updates, audit } = setup({});
    expect(await controller.pauseEach(CALL, [A, B])).toEqual({ ok: true, twilioStatus: '200' });
    expect(updates).toEqual([A, B].map((recordingSid) => ({ callSid: CALL, recordingSid, params: { status: 'paused', pauseBehavior: 'skip' } })));
    expect(audit.map((a) => [a.type, a.recordingSid])).toEqual([
      ['recording.paused', A],
      ['recording.paused', B],
    ]);
  });

  test('the second refused: that failure is the answer, the third is never tried, the first is resumed', async () => {
    const { controller, updates, audit, counts } = setup({ paused: { [B]: 500 } });
    expect(await controller.pauseEach(CALL, [A, B, C])).toMatchObject({ ok: false, twilioStatus: '500', recordingSid: B });
    expect(requests(updates)).toEqual([
      [A, 'paused'],
      [B, 'paused'],
      [A, 'in-progress'],
    ]);
    expect(audit.map((a) => a.type)).toEqual(['recording.paused', 'recording.pause-failed', 'recording.resumed']);
    expect(counts.pauseFailures).toBe(1);
  });

  test("an undoing resume Twilio never answers: still the pause failure, with the undo's unanswered try and its age (it may yet be carried out); none when the undo was answered", async () => {
    jest.useFakeTimers();
    try {
      const { controller, updates } = setup({ paused: { [B]: 500 }, 'in-progress': 'never' });
      const pausing = controller.pauseEach(CALL, [A, B]);
      await jest.advanceTimersByTimeAsync(PAUSE_ACK_TIMEOUT_MS + 10);
      const outcome = await pausing;
      expect(outcome).toMatchObject({ ok: false, twilioStatus: '500', recordingSid: B });
      expect(requests(updates)).toEqual([
        [A, 'paused'],
        [B, 'paused'],
        [A, 'in-progress'],
      ]);
      expect(outcome.unansweredSentMsAgo).toBeGreaterThanOrEqual(PAUSE_ACK_TIMEOUT_MS);
    } finally {
      jest.useRealTimers();
    }
    const { controller } = setup({ paused: { [B]: 500 } });
    expect((await controller.pauseEach(CALL, [A, B])).unansweredSentMsAgo).toBeUndefined();
  });

  test('the undoing resume refused too: still the pause failure, the resume failure audited and logged', async () => {
    const { controller, audit } = setup({ paused: { [B]: 503 }, 'in-progress': 500 });
    expect(await controller.pauseEach(CALL, [A, B])).toMatchObject({ ok: false, twilioStatus: '503' });
    expect(audit.map((a) => a.type)).toEqual(['recording.paused', 'recording.pause-failed', 'recording.resume-failed']);
  });

  test('an audit write fails after Twilio acknowledged the second pause: the error is thrown, and both pauses are undone', async () => {
    let pauses = 0;
    const { controller, updates } = setup({}, undefined, { auditFails: (type) => type === 'recording.paused' && ++pauses === 2 });
    await expect(controller.pauseEach(CALL, [A, B, C])).rejects.toThrow('store down');
    expect(requests(updates)).toEqual([
      [A, 'paused'],
      [B, 'paused'],
      [A, 'in-progress'],
      [B, 'in-progress'],
    ]);
  });

  test('an undoing resume whose audit write fails is logged, and the others are still resumed', async () => {
    const { controller, updates, logLines } = setup({ paused: { [C]: 500 } }, undefined, { auditFails: (type) => type === 'recording.resumed' });
    expect(await controller.pauseEach(CALL, [A, B, C])).toMatchObject({ ok: false, recordingSid: C });
    expect(requests(updates).slice(3)).toEqual([
      [A, 'in-progress'],
      [B, 'in-progress'],
    ]);
    const undone = logLines.filter((l) => l.msg === 'recording resume after a failed pause did not complete');
    expect(undone.map((l) => [l.recordingSid, l.err])).toEqual([
      [A, expect.objectContaining({ message: 'store down' })],
      [B, expect.objectContaining({ message: 'store down' })],
    ]);
  });

  test("none active any more (Twilio's 404 for each): ok and absent", async () => {
    const { controller } = setup({ paused: 404 });
    expect(await controller.pauseEach(CALL, [A, B])).toEqual({ ok: true, twilioStatus: '404', absent: true });
  });

  test("a bare 404 for the second (not Twilio's not-found): the failure is the answer, and the first, paused, is resumed", async () => {
    const { controller, updates } = setup({ paused: { [B]: 'bare404' } });
    expect(await controller.pauseEach(CALL, [A, B])).toMatchObject({ ok: false, twilioStatus: '404', recordingSid: B });
    expect(requests(updates)).toEqual([
      [A, 'paused'],
      [B, 'paused'],
      [A, 'in-progress'],
    ]);
  });

  test('a bare 404 for every one (a client pointed at the wrong place): not ok, never absent', async () => {
    const { controller } = setup({ paused: 'bare404' });
    expect(await controller.pauseEach(CALL, [A, B])).toMatchObject({ ok: false, twilioStatus: '404' });
  });

  test('resumeEach tries every one; ok only when all were resumed', async () => {
    const all = setup({});
    expect(await all.controller.resumeEach(CALL, [A, B])).toEqual({ ok: true, twilioStatus: '200' });
    const partly = setup({ 'in-progress': { [A]: 400 } });
    expect(await partly.controller.resumeEach(CALL, [A, B])).toMatchObject({ ok: false, twilioStatus: '400', recordingSid: A });
    expect(requests(partly.updates)).toEqual([
      [A, 'in-progress'],
      [B, 'in-progress'],
    ]);
  });
});

describe("pauseAll and resumeAll: recordings on several calls (a bridge's two), audited on one", () => {
  const AGENT_CALL = 'CA' + '3'.repeat(32);
  const A = 'RE' + 'a'.repeat(32);
  const B = 'RE' + 'b'.repeat(32);
  const both = [
    { callSid: AGENT_CALL, recordingSid: A },
    { callSid: CALL, recordingSid: B },
  ];

  test("each paused on its own call by its SID, each audited on the caller's call", async () => {
    const { controller, updates, audit } = setup({});
    expect(await controller.pauseAll(both, CALL)).toEqual({ ok: true, twilioStatus: '200' });
    expect(updates.map((u) => [u.callSid, u.recordingSid, u.params.status])).toEqual([
      [AGENT_CALL, A, 'paused'],
      [CALL, B, 'paused'],
    ]);
    expect(audit.map((a) => [a.callSid, a.type, a.recordingSid])).toEqual([
      [CALL, 'recording.paused', A],
      [CALL, 'recording.paused', B],
    ]);
  });

  test("the caller's call's refused: that failure is the answer, and the agent's call's, paused first, is resumed on its own call (all or none)", async () => {
    const { controller, updates, audit } = setup({ paused: { [B]: 500 } });
    expect(await controller.pauseAll(both, CALL)).toMatchObject({ ok: false, twilioStatus: '500', recordingSid: B });
    expect(updates.map((u) => [u.callSid, u.recordingSid, u.params.status])).toEqual([
      [AGENT_CALL, A, 'paused'],
      [CALL, B, 'paused'],
      [AGENT_CALL, A, 'in-progress'],
    ]);
    expect(audit.map((a) => [a.callSid, a.type])).toEqual([
      [CALL, 'recording.paused'],
      [CALL, 'recording.pause-failed'],
      [CALL, 'recording.resumed'],
    ]);
  });

  test('none named: ok and absent, nothing asked of Twilio, nothing audited', async () => {
    const { controller, updates, audit } = setup({});
    expect(await controller.pauseAll([], CALL)).toEqual({ ok: true, twilioStatus: '404', absent: true });
    expect(updates).toEqual([]);
    expect(audit).toEqual([]);
  });

  test('resumeAll: one never answered, then one refused: the failure is the first, and the unanswered try is still reported, aged as resumeAll returns', async () => {
    jest.useFakeTimers();
    try {
      const { controller } = setup({ 'in-progress': { [A]: 'never', [B]: 400 } });
      const all = controller.resumeAll(both, CALL);
      await jest.advanceTimersByTimeAsync(PAUSE_ACK_TIMEOUT_MS + 10);
      const outcome = await all;
      expect(outcome).toMatchObject({ ok: false, twilioStatus: 'timeout', failed: both });
      expect(outcome.unansweredSentMsAgo).toBeGreaterThanOrEqual(PAUSE_ACK_TIMEOUT_MS);
    } finally {
      jest.useRealTimers();
    }
  });

  test('resumeAll tries every one on its own call; ok only when all were resumed', async () => {
    const { controller, updates } = setup({ 'in-progress': { [A]: 400 } });
    // and names the ones that failed: the other was resumed
    expect(await controller.resumeAll(both, CALL)).toMatchObject({ ok: false, twilioStatus: '400', recordingSid: A, failed: [both[0]] });
    expect(updates.map((u) => [u.callSid, u.recordingSid, u.params.status])).toEqual([
      [AGENT_CALL, A, 'in-progress'],
      [CALL, B, 'in-progress'],
    ]);
  });
});

describe("holdEach: the bridge's hold on the caller's call, nothing ever undone", () => {
  const A = 'RE' + 'a'.repeat(32);
  const B = 'RE' + 'b'.repeat(32);
  const C = 'RE' + 'c'.repeat(32);
  const three = [A, B, C].map((recordingSid) => ({ callSid: CALL, recordingSid }));

  test('a pause refused neither stops the rest nor resumes those before it: each named paused or failed', async () => {
    const { controller, updates, audit } = setup({ paused: { [B]: 500, [C]: 404 } });
    expect(await controller.holdEach(three, CALL)).toEqual({ paused: [three[0]], failed: [{ recording: three[1], twilioStatus: '500' }] });
    expect(updates.map((u) => [u.recordingSid, u.params.status])).toEqual([
      [A, 'paused'],
      [B, 'paused'],
      [C, 'paused'],
    ]);
    expect(audit.map((a) => a.type)).toEqual(['recording.paused', 'recording.pause-failed', 'recording.paused']);
  });

  test('an audit write refused after Twilio answered: that one failed (paused or not, unknown), nothing resumed, the rest still paused', async () => {
    let refusals = 1;
    const { controller, updates, logLines } = setup({}, undefined, { auditFails: (type) => type === 'recording.paused' && refusals-- > 0 });
    expect(await controller.holdEach(three.slice(0, 2), CALL)).toEqual({ paused: [three[1]], failed: [{ recording: three[0], twilioStatus: 'unaudited' }] });
    expect(updates.map((u) => [u.recordingSid, u.params.status])).toEqual([
      [A, 'paused'],
      [B, 'paused'],
    ]);
    expect(logLines.some((l) => l.msg === 'recording pause not audited: it is left as Twilio left it')).toBe(true);
  });
});

describe('stop', () => {
  test('acknowledged: stopped, one REST call, audited', async () => {
    const { controller, updates, audit } = setup({});
    expect(await controller.stop(CALL, REC)).toMatchObject({ ok: true, twilioStatus: '200' });
    expect(updates.map((u) => u.params)).toEqual([{ status: 'stopped' }]);
    expect(audit.map((a) => a.type)).toEqual(['recording.stopped']);
  });

  test('refused: falls back to a pause with skip, which is ok when it takes', async () => {
    const { controller, updates, audit, counts } = setup({ stopped: 500 });
    expect(await controller.stop(CALL, REC)).toMatchObject({ ok: true, twilioStatus: '200' });
    expect(updates.map((u) => u.params)).toEqual([{ status: 'stopped' }, { status: 'paused', pauseBehavior: 'skip' }]);
    expect(audit.map((a) => a.type)).toEqual(['recording.held-paused']);
    expect(counts.pauseFailures).toBe(0);
  });

  test('not answered, then the fallback pause refused: not ok, counted, audited as stop-failed', async () => {
    jest.useFakeTimers();
    try {
      const { controller, updates, audit, counts } = setup({ stopped: 'never', paused: 500 });
      const pending = controller.stop(CALL, REC);
      await jest.advanceTimersByTimeAsync(PAUSE_ACK_TIMEOUT_MS);
      expect(await pending).toMatchObject({ ok: false, twilioStatus: '500' });
      expect(updates.map((u) => u.params.status)).toEqual(['stopped', 'paused']);
      expect(audit.map((a) => a.type)).toEqual(['recording.stop-failed']);
      expect(counts.pauseFailures).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
