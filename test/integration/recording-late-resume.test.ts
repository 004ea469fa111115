/**
 * A resume Twilio answers after PAUSE_ACK_TIMEOUT_MS is not over: Twilio may carry it out later.
 * The IVR's next pause (for the next sensitive field) must not be overtaken by it, or the caller
 * keys that field into a running recording. (Captures: capture.test.ts.) And Twilio's 429 (too
 * many concurrent REST requests: never processed, safe to retry): a pause is tried again by the
 * REST client's backoff, a resume by the controller within its own bound, so that an unanswered
 * resume is still over when the next pause has waited it out.
 */
import { MENU_PROMPT, MENU_STEP } from '../support/card-flows';
import { sleep, startHarness, waitFor, type Harness } from '../support/harness';

const NUMBER = '+15005550021';
const FLOW = `id: two-secrets
numbers: ["${NUMBER}"]
record: true
steps:
${MENU_STEP}  - collect: account
    kind: digits
    minLength: 6
    maxLength: 10
    prompt: "Key in your account number, then press hash."
  - say: "Thank you."
  - collect: pin
    kind: digits
    minLength: 4
    maxLength: 6
    prompt: "Key in your PIN, then press hash."
handoff:
  mode: dial
  to: "client:alice"
`;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ flows: { 'two-secrets': FLOW } });
});

afterAll(async () => {
  await h?.close();
});

/** the REST updates of the call's recordings to `status`, with Twilio's answer to each */
const updates = (callSid: string, status: string) =>
  h.emulator
    .timelineFor(callSid)
    .flatMap((e) => (e.type === 'rest' && e.method === 'POST' && /\/Recordings\/[^/]+\.json$/.test(e.path) && e.params.Status === status ? [e.status] : []));

/** a call that answers the menu, the account and the PIN at once */
function callAnswering(): ReturnType<typeof h.emulator.placeCall> {
  return h.emulator.placeCall({
    from: '+15550006666',
    to: NUMBER,
    voiceUrl: h.voiceUrl,
    onGather: (g) => {
      const prompt = JSON.stringify(g);
      if (prompt.includes(MENU_PROMPT)) return '1#';
      if (prompt.includes('Key in your account')) return '12345678#';
      if (prompt.includes('Key in your PIN')) return '4321#';
      return null;
    },
  });
}

test('a resume answered after its timeout, retried, then a pause for the next sensitive field: the late resume does not land after that pause', async () => {
  let resumeSentAt = 0;
  const answers = new Map<string, () => Promise<string>>([
    [MENU_PROMPT, async () => '1#'],
    [
      'Key in your account',
      async () => {
        // the resume after the account is answered past its timeout, then carried out
        h.emulator.faults.recordingResume = { delayMs: 4_000, times: 1 };
        resumeSentAt = h.emulator.now();
        return '12345678#';
      },
    ],
    [
      'Key in your PIN',
      async () => {
        // the caller keys the PIN once the late resume has been carried out
        await sleep(Math.max(0, resumeSentAt + 4_500 - h.emulator.now()));
        return '4321#';
      },
    ],
  ]);
  const call = await h.emulator.placeCall({
    from: '+15550003333',
    to: NUMBER,
    voiceUrl: h.voiceUrl,
    onGather: (g) => {
      const prompt = JSON.stringify(g);
      for (const [k, answer] of answers) if (prompt.includes(k)) return answer();
      return null;
    },
  });
  await waitFor(() => call.transcript.some((t) => t.verb === 'Dial'), 'the dial', 20_000);
  expect(call.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress', 'paused', 'paused']);
  await call.hangup();
}, 30_000);

test('every resume fails: the call goes on, its recording taken as paused but perhaps running, and the next sensitive field is paused for again', async () => {
  h.emulator.faults.recordingResume = { status: 500 };
  try {
    const call = await callAnswering();
    await waitFor(() => call.transcript.some((t) => t.verb === 'Dial'), 'the dial', 20_000);
    expect(call.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress', 'paused', 'paused']);
    const entries = (await h.app.services.audit.list(call.sid)).map((e) => (e as { type?: string }).type);
    // one pause before the account, and one again before the PIN, as if the failed resume had run
    expect(entries.filter((t) => t === 'recording.paused')).toHaveLength(2);
    expect(entries.filter((t) => t === 'recording.resume-failed').length).toBeGreaterThanOrEqual(1);
    await call.hangup();
  } finally {
    h.emulator.faults.recordingResume = undefined;
  }
}, 30_000);

test("a resume another instance sent went unanswered: this instance's pause for the next sensitive field waits until that resume can no longer be carried out", async () => {
  const lateMs = 1_500;
  let menuAnsweredAt = 0;
  const call = await h.emulator.placeCall({
    from: '+15550005555',
    to: NUMBER,
    voiceUrl: h.voiceUrl,
    onGather: async (g) => {
      const prompt = JSON.stringify(g);
      if (prompt.includes(MENU_PROMPT)) {
        // as the instance that sent the unanswered resume left the call (the recording taken as
        // paused, the resume perhaps carried out until lateUntil)
        await h.app.services.calls.update(call.sid, (s) => {
          s.recording.status = 'paused';
          s.recording.resumeFailed = { lateUntil: Date.now() + lateMs };
        });
        menuAnsweredAt = h.emulator.now();
        return '1#';
      }
      if (prompt.includes('Key in your account')) return '12345678#';
      if (prompt.includes('Key in your PIN')) return '4321#';
      return null;
    },
  });
  // the call runs to its end: a hang-up while its last gather is being answered would leave
  // that webhook answered as the service closes, which holds the harness's close open
  await waitFor(() => call.transcript.some((t) => t.verb === 'Dial'), 'the dial', 20_000);
  const paused = h.emulator.timelineFor(call.sid).flatMap((e) => (e.type === 'recording' && e.status === 'paused' ? [e.t] : []));
  expect(paused.length).toBeGreaterThanOrEqual(1);
  expect(paused[0] - menuAnsweredAt).toBeGreaterThanOrEqual(lateMs - 50);
  await call.hangup();
}, 30_000);

test('Twilio answers the pause 429 (too many concurrent requests) twice: it is tried again, and the account is asked with the recording paused', async () => {
  h.emulator.faults.recordingPause = { status: 429, times: 2 };
  try {
    const call = await callAnswering();
    await waitFor(() => call.transcript.some((t) => t.verb === 'Dial'), 'the dial', 20_000);
    expect(call.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress', 'paused', 'paused']);
    expect(updates(call.sid, 'paused')).toEqual([429, 429, 200, 200]);
    const session = await h.app.services.calls.get(call.sid);
    expect(session!.fields.account).toMatchObject({ valid: true });
    await call.hangup();
  } finally {
    h.emulator.faults.recordingPause = undefined;
  }
}, 30_000);

test('a resume answered 429 is tried again within its bound: the recording runs again between the fields, and the PIN is paused for as usual', async () => {
  h.emulator.faults.recordingResume = { status: 429, times: 1 };
  try {
    const call = await callAnswering();
    await waitFor(() => call.transcript.some((t) => t.verb === 'Dial'), 'the dial', 20_000);
    expect(call.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress', 'paused', 'paused']);
    // the account's resume: its 429, then the try that took; then the PIN's
    expect(updates(call.sid, 'in-progress')).toEqual([429, 200, 200]);
    const own = (await h.app.services.calls.get(call.sid))!.recording.sid!;
    // running again for the "Thank you" between the account and the PIN
    expect(h.emulator.recordingStatuses(call.sid, own).slice(0, 5)).toEqual(['in-progress', 'paused', 'in-progress', 'paused', 'in-progress']);
    const entries = (await h.app.services.audit.list(call.sid)) as { type?: string; tries?: number }[];
    expect(entries.filter((e) => e.type === 'recording.resume-failed')).toEqual([]);
    expect(entries.filter((e) => e.type === 'recording.resumed').map((e) => e.tries)).toEqual([2, undefined]);
    await call.hangup();
  } finally {
    h.emulator.faults.recordingResume = undefined;
  }
}, 30_000);
