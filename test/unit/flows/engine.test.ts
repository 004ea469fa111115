/**
 * The flow engine is a pure function: (flow, session, input) → (session', verbs, effect).
 * These tests run it without HTTP, Twilio or a store.
 */
import type { CallSession } from '../../../src/calls/session';
import { advance, RESUME_HOLD_MS, type EngineResult } from '../../../src/flows/engine';
import * as sessionCopy from '../../../src/flows/copy';
import { GUARD_MAX_SECONDS } from '../../../src/flows/steps/collect';
import { parseFlow } from '../../../src/flows/load';
import { HANDOFF_REFUSED } from '../../../src/flows/steps/handoff';

const flow = parseFlow(
  'test.yaml',
  `
id: t
numbers: ["+15005550006"]
record: true
steps:
  - say: hello
  - collect: card
    kind: card-number
    prompt: card please
    attempts: 2
  - collect: cvv
    kind: security-code
    prompt: code please
  - say: thanks
  - collect: ref
    kind: digits
    sensitive: false
    minLength: 2
    maxLength: 4
    prompt: reference
handoff:
  mode: dial
  to: "client:alice"
`,
);

/** a flow `id` of its own number that runs `steps` (YAML list items), then dials alice */
function dialFlow(id: string, steps: string) {
  return parseFlow(`${id}.yaml`, `id: ${id}\nnumbers: ["+15005550007"]\nsteps:${steps}handoff:\n  mode: dial\n  to: "client:alice"\n`);
}

const now = new Date('2026-11-29T12:00:00Z');
const session = (): CallSession => ({
  callSid: 'CA' + '0'.repeat(32),
  accountSid: 'AC' + '0'.repeat(32),
  flowId: 't',
  to: '+15005550006',
  fromMasked: '+*******4567',
  subject: 'x',
  state: 'ivr',
  step: 0,
  attempt: 1,
  recording: { sid: 'RE' + '0'.repeat(32), status: 'in-progress' },
  fields: {},
  handoff: { mode: 'dial', to: 'client:alice' },
  createdAt: 0,
  updatedAt: 0,
});

const run = (r: EngineResult, input: Parameters<typeof advance>[1]) => advance(flow, input, r.session, { now });

describe('flow engine', () => {
  test('asks for a pause before the first sensitive field, and only gathers once paused', () => {
    const r1 = advance(flow, { kind: 'start' }, session(), { now });
    expect(r1.verbs).toEqual([{ verb: 'say', text: 'hello' }]);
    expect(r1.effect).toEqual({ kind: 'pause-recording' });
    const r2 = run(r1, { kind: 'recording', op: 'pause', ok: true });
    expect(r2.session.recording.status).toBe('paused');
    expect(r2.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'card', step: 1, attempt: 1 })]);
  });

  test('a valid card is masked on the session and handed out only as a vault write', () => {
    let r = advance(flow, { kind: 'start' }, session(), { now });
    r = run(r, { kind: 'recording', op: 'pause', ok: true });
    r = run(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111#' });
    expect(r.session.fields.card).toMatchObject({ masked: '************1111', last4: '1111', brand: 'visa', valid: true });
    expect(JSON.stringify(r.session)).not.toContain('4111111111111111');
    expect(r.vaultWrites).toEqual([{ field: 'card', value: '4111111111111111' }]);
    // still paused: the next field is sensitive too, so no resume in between
    expect(r.effect).toBeUndefined();
    expect(r.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'cvv', numDigits: 3 })]);
  });

  test("a security code ends by count only when the call's card brand fixes its length", () => {
    const codeOnly = dialFlow(
      'code',
      `
  - collect: cvv
    kind: security-code
    prompt: code please
`,
    );
    const gatherOf = (s: CallSession) => advance(codeOnly, { kind: 'start' }, { ...s, flowId: 'code', recording: { status: 'none' } }, { now }).verbs[0];
    // no card on the call: a fourth key (an Amex code) must stay inside the Gather, not fall after it
    expect(gatherOf(session())).toMatchObject({ verb: 'gather', field: 'cvv' });
    expect(gatherOf(session())).not.toHaveProperty('numDigits', expect.anything());
    expect(gatherOf({ ...session(), cardBrand: 'amex' })).toMatchObject({ verb: 'gather', numDigits: 4 });
    expect(gatherOf({ ...session(), cardBrand: 'visa' })).toMatchObject({ verb: 'gather', numDigits: 3 });
  });

  test('resumes after the last consecutive sensitive field, before anything else is said', () => {
    let r = advance(flow, { kind: 'start' }, session(), { now });
    r = run(r, { kind: 'recording', op: 'pause', ok: true });
    r = run(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111' });
    r = run(r, { kind: 'digits', step: 2, attempt: 1, digits: '123' });
    expect(r.effect).toEqual({ kind: 'resume-recording' });
    expect(r.resumeNotBefore).toBe(now.getTime() + RESUME_HOLD_MS);
    expect(r.verbs).toEqual([]);
    r = run(r, { kind: 'recording', op: 'resume', ok: true });
    expect(r.verbs.map((v) => v.verb)).toEqual(['say', 'gather']);
    expect(r.session.recording.status).toBe('in-progress');
  });

  test("a resume after a sensitive Gather that ended on its count is held for the keys that may follow the Gather's end", () => {
    const toCode = () => {
      let r = advance(flow, { kind: 'start' }, session(), { now });
      r = run(r, { kind: 'recording', op: 'pause', ok: true });
      return run(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111' });
    };
    // the Visa's code is asked with numDigits 3: three keys end it, and a fourth may follow
    const code = run(toCode(), { kind: 'digits', step: 2, attempt: 1, digits: '123' });
    expect(code.effect).toEqual({ kind: 'resume-recording' });
    expect(code.resumeNotBefore).toBe(now.getTime() + RESUME_HOLD_MS);
    // a one-attempt field of `kind` answered with `digits`, then words: what the engine asks for next
    const afterOnlyEntry = (kind: string, digits: string) => {
      const oneTry = dialFlow(kind, `\n  - collect: value\n    kind: ${kind}\n    attempts: 1\n    prompt: please\n  - say: thanks\n`);
      let r = advance(oneTry, { kind: 'start' }, { ...session(), flowId: kind }, { now });
      r = advance(oneTry, { kind: 'recording', op: 'pause', ok: true }, r.session, { now });
      return advance(oneTry, { kind: 'digits', step: 0, attempt: 1, digits }, r.session, { now });
    };
    // the last attempt ended on its count too, the field failed: the resume that follows is held as well
    const failed = afterOnlyEntry('expiry', '1399');
    expect(failed.session.fields.value).toMatchObject({ valid: false });
    expect(failed.effect).toEqual({ kind: 'resume-recording' });
    expect(failed.resumeNotBefore).toBe(now.getTime() + RESUME_HOLD_MS);
    // ended on '#' before its count (the field fails): the caller stopped keying, the resume is not held
    const keyed = afterOnlyEntry('date', '0102#');
    expect(keyed.effect).toEqual({ kind: 'resume-recording' });
    expect(keyed.resumeNotBefore).toBeUndefined();
  });

  test('a resume that fails is not asked again at once: the flow goes on, and the next sensitive field is paused for as if it had run', () => {
    const twoStretches = dialFlow(
      'two',
      `
  - collect: card
    kind: card-number
    prompt: card please
  - say: thanks
  - collect: cvv
    kind: security-code
    prompt: code please
`,
    );
    const go = (r: EngineResult, input: Parameters<typeof advance>[1]) => advance(twoStretches, input, r.session, { now });
    let r = advance(twoStretches, { kind: 'start' }, { ...session(), flowId: 'two' }, { now });
    r = go(r, { kind: 'recording', op: 'pause', ok: true });
    r = go(r, { kind: 'digits', step: 0, attempt: 1, digits: '4111111111111111', finishedOnKey: '#' });
    expect(r.effect).toEqual({ kind: 'resume-recording' });
    r = go(r, { kind: 'recording', op: 'resume', ok: false });
    // the words are said with the recording taken as paused, no second resume asked for; the
    // sensitive field after them waits for a pause, as the failed resume may have run after all
    expect(r.verbs).toEqual([{ verb: 'say', text: 'thanks' }]);
    expect(r.effect).toEqual({ kind: 'pause-recording' });
    expect(r.session.recording).toMatchObject({ status: 'paused', resumeFailed: { lateUntil: 0 } });
    r = go(r, { kind: 'recording', op: 'pause', ok: true });
    expect(r.session.recording.resumeFailed).toBeUndefined();
    expect(r.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'cvv' })]);
  });

  test('an invalid card is asked again, then failed after `attempts`, and the flow goes on', () => {
    let r = advance(flow, { kind: 'start' }, session(), { now });
    r = run(r, { kind: 'recording', op: 'pause', ok: true });
    r = run(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111112' });
    expect(r.verbs).toEqual([
      expect.objectContaining({
        verb: 'gather',
        field: 'card',
        attempt: 2,
        prompts: [{ say: 'Sorry, that card number is not valid.' }, { say: 'card please' }],
      }),
    ]);
    expect(r.vaultWrites).toEqual([]);
    r = run(r, { kind: 'digits', step: 1, attempt: 2, digits: '4111111111111113' });
    expect(r.session.fields.card).toMatchObject({ valid: false, reason: 'attempts-exhausted:luhn' });
    expect(r.session.fields.card.masked).not.toMatch(/\d/);
    expect(r.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'cvv' })]);
  });

  test('a failed pause fails closed: every sensitive field failed, straight to handoff, no gather', () => {
    let r = advance(flow, { kind: 'start' }, session(), { now });
    r = run(r, { kind: 'recording', op: 'pause', ok: false });
    expect(r.verbs.some((v) => v.verb === 'gather')).toBe(false);
    expect(r.verbs[r.verbs.length - 1]).toMatchObject({ verb: 'handoff' });
    expect(r.session.fields.card).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
    expect(r.session.fields.cvv).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
    expect(r.session.fields.ref).toBeUndefined();
    expect(r.session.state).toBe('handoff');
  });

  test('a stale or replayed gather answer changes nothing and re-asks the current step', () => {
    let r = advance(flow, { kind: 'start' }, session(), { now });
    r = run(r, { kind: 'recording', op: 'pause', ok: true });
    const stale = run(r, { kind: 'digits', step: 1, attempt: 7, digits: '4111111111111111' });
    expect(stale.session.fields).toEqual({});
    expect(stale.vaultWrites).toEqual([]);
    expect(stale.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'card', attempt: 1 })]);
  });

  test.each(['handoff', 'offered', 'bridging', 'bridged', 'dialed', 'ended'] as const)(
    'a gather answer or a resume for a call that is %s changes nothing and says nothing',
    (state) => {
      // the call was handed off mid-flow (a failed pause), then a stale gather of step 1 arrives
      // with valid digits, and one that matches where the session stands
      const s = session();
      s.state = state;
      s.step = 1;
      const before = structuredClone(s);
      for (const input of [
        { kind: 'digits' as const, step: 1, attempt: 1, digits: '4111111111111111' },
        { kind: 'digits' as const, step: 4, attempt: 3, digits: '12' },
        { kind: 'resume' as const },
      ]) {
        const r = advance(flow, input, s, { now });
        expect(r.noop).toBe(true);
        expect(r.session).toEqual(before);
        expect(r.verbs).toEqual([]);
        expect(r.vaultWrites).toEqual([]);
        expect(r.effect).toBeUndefined();
      }
      expect(s).toEqual(before);
    },
  );

  describe("a sensitive field that ended on the caller's silence (its Gather's timeout)", () => {
    /** card (one attempt, `timeout` s), then `after` (YAML list items), then dial alice; the card asked (the recording, if running, paused) */
    const cardThen = (after: string, s: Partial<CallSession> = {}, timeout = 3) => {
      const f = dialFlow(
        'guarded',
        `\n  - collect: card\n    kind: card-number\n    attempts: 1\n    timeoutSeconds: ${timeout}\n    prompt: card please${after}`,
      );
      let r = advance(f, { kind: 'start' }, { ...session(), flowId: 'guarded', ...s }, { now });
      if (r.effect) r = advance(f, { kind: 'recording', op: 'pause', ok: true }, r.session, { now });
      return { f, asked: r };
    };
    const answer = (c: ReturnType<typeof cardThen>, digits: string, finishedOnKey?: string) =>
      advance(c.f, { kind: 'digits', step: 0, attempt: 1, digits, ...(finishedOnKey === undefined ? {} : { finishedOnKey }) }, c.asked.session, { now });

    test('is followed by a guard before the recording resumes: a Gather as long as the field waited (capped), going on from the next step', () => {
      const c = cardThen('\n  - say: thanks\n');
      for (const finishedOnKey of ['', undefined]) {
        const r = answer(c, '4111111111111111', finishedOnKey);
        // the value is taken: sealed and masked as any other; only the resume waits
        expect(r.session.fields.card).toMatchObject({ valid: true, last4: '1111' });
        expect(r.vaultWrites).toEqual([{ field: 'card', value: '4111111111111111' }]);
        expect(r.verbs).toEqual([{ verb: 'guard', step: 1, timeoutSeconds: 3 }]);
        expect(r.effect).toBeUndefined();
        expect(r.session.recording.status).toBe('paused');
        // the guard's end: the call goes on from where it stands, the recording resumed first
        const after = advance(c.f, { kind: 'resume' }, r.session, { now });
        expect(after.effect).toEqual({ kind: 'resume-recording' });
        expect(advance(c.f, { kind: 'recording', op: 'resume', ok: true }, after.session, { now }).verbs[0]).toEqual({ verb: 'say', text: 'thanks' });
      }
      // a field that waits long: its guard waits no longer than GUARD_MAX_SECONDS (dead air a caller would hang up on)
      expect(answer(cardThen('\n  - say: thanks\n', {}, 30), '4111', '').verbs).toEqual([{ verb: 'guard', step: 1, timeoutSeconds: GUARD_MAX_SECONDS }]);
      // a caller who keyed nothing at all may start late: guarded too (the field failed, no-input)
      const none = answer(c, '', '');
      expect(none.session.fields.card).toMatchObject({ valid: false, reason: 'no-input' });
      expect(none.verbs).toEqual([{ verb: 'guard', step: 1, timeoutSeconds: 3 }]);
    });

    test("no guard where the caller said they were done ('#'), nor where the recording stays paused or was never running", () => {
      expect(answer(cardThen('\n  - say: thanks\n'), '4111111111111111', '#').effect).toEqual({ kind: 'resume-recording' });
      // another sensitive field follows: still paused, asked at once
      const code = answer(cardThen('\n  - collect: cvv\n    kind: security-code\n    prompt: code please\n'), '4111111111111111', '');
      expect(code.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'cvv' })]);
      // no recording
      const f = dialFlow('plain', `\n  - collect: card\n    kind: card-number\n    attempts: 1\n    prompt: card please\n  - say: thanks\n`);
      const asked = advance(f, { kind: 'start' }, { ...session(), flowId: 'plain', recording: { status: 'none' } }, { now });
      const r = advance(f, { kind: 'digits', step: 0, attempt: 1, digits: '4111111111111111', finishedOnKey: '' }, asked.session, { now });
      expect(r.verbs).toEqual([{ verb: 'say', text: 'thanks' }, expect.objectContaining({ verb: 'handoff' })]);
    });

    test('the call as the field left it is copied for a guard only where a recording may resume or start', () => {
      const f = dialFlow('plain', `\n  - collect: card\n    kind: card-number\n    attempts: 1\n    prompt: card please\n  - say: thanks\n`);
      const asked = advance(f, { kind: 'start' }, { ...session(), flowId: 'plain', recording: { status: 'none' } }, { now });
      const recorded = cardThen('\n  - say: thanks\n');
      const clone = jest.spyOn(sessionCopy, 'copySession');
      try {
        // no recording, no capture: advance's own copy of the session, none for the field
        advance(f, { kind: 'digits', step: 0, attempt: 1, digits: '4111111111111111', finishedOnKey: '' }, asked.session, { now });
        expect(clone).toHaveBeenCalledTimes(1);
        clone.mockClear();
        // a paused recording: the field's copy, which its guard goes on from
        expect(answer(recorded, '4111111111111111', '').verbs).toEqual([{ verb: 'guard', step: 1, timeoutSeconds: 3 }]);
        expect(clone).toHaveBeenCalledTimes(2);
      } finally {
        clone.mockRestore();
      }
    });

    test('an attempt left, the field is asked again at once: the paused stretch goes on', () => {
      let r = advance(flow, { kind: 'start' }, session(), { now });
      r = run(r, { kind: 'recording', op: 'pause', ok: true });
      r = run(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111', finishedOnKey: '' });
      expect(r.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'card', attempt: 2 })]);
    });

    test("in a drop-in capture a failed field ends it, resuming the app's recordings: guarded after silence, held after its count", () => {
      const dropin = { dropin: { returnUrl: 'https://shop.example.com/back' } };
      const then = '\n  - collect: expiry\n    kind: expiry\n    attempts: 1\n    prompt: expiry please\n';
      // the card failed on a timeout: the next field is not asked, a guard first
      const silent = answer(cardThen(then, dropin), '4111', '');
      expect(silent.session.fields.card).toMatchObject({ valid: false });
      expect(silent.verbs).toEqual([{ verb: 'guard', step: 1, timeoutSeconds: 3 }]);
      // on '#': the capture ends at once, nothing held
      const keyed = answer(cardThen(then, dropin), '4111', '#');
      expect(keyed.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'expiry' })]);
      expect(keyed.resumeNotBefore).toBeUndefined();
      // the expiry failed on its count: its end is held for keys that follow
      const c = cardThen(then, dropin);
      const expiryAsked = answer(c, '4111111111111111', '#');
      const held = advance(c.f, { kind: 'digits', step: 1, attempt: 1, digits: '1399', finishedOnKey: '' }, expiryAsked.session, { now });
      expect(held.session.fields.expiry).toMatchObject({ valid: false });
      expect(held.resumeNotBefore).toBe(now.getTime() + RESUME_HOLD_MS);
      // a capture whose app records nothing: nothing to guard
      const unrecorded = answer(cardThen(then, { ...dropin, recording: { status: 'none' } }), '4111', '');
      expect(unrecorded.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'expiry' })]);
    });
  });

  describe("a stray key: a '#' pressed past an entry that ended on its count, taken by the next Gather as it began", () => {
    const codes = dialFlow(
      'codes',
      `
  - collect: expiry
    kind: expiry
    prompt: expiry please
  - collect: pin
    kind: digits
    minLength: 4
    maxLength: 6
    attempts: 2
    prompt: pin please
`,
    );
    const go = (r: EngineResult, input: Parameters<typeof advance>[1]) => advance(codes, input, r.session, { now });
    /** the expiry keyed (four keys: the Gather ends on its count), the pin asked at once */
    const pinAsked = () => {
      const r = advance(codes, { kind: 'start' }, { ...session(), flowId: 'codes', recording: { status: 'none' } }, { now });
      return go(r, { kind: 'digits', step: 0, attempt: 1, digits: '1228', finishedOnKey: '' });
    };

    test("an empty entry ended on '#' is asked again once, same attempt, no error said, on its own action", () => {
      const asked = pinAsked();
      expect(asked.session.strayKey).toBe('possible');
      const again = go(asked, { kind: 'digits', step: 1, attempt: 1, digits: '', finishedOnKey: '#' });
      expect(again.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'pin', attempt: 1, again: true, prompts: [{ say: 'pin please' }] })]);
      expect(again.session.fields.pin).toBeUndefined();
      // the answer to the Gather asked again counts as the attempt it is
      const done = go(again, { kind: 'digits', step: 1, attempt: 1, digits: '4321', finishedOnKey: '#', again: true });
      expect(done.session.fields.pin).toMatchObject({ valid: true });
      expect(done.session.strayKey).toBeUndefined();
    });

    test('only once: a second empty entry is the no-input it says it is', () => {
      const again = go(pinAsked(), { kind: 'digits', step: 1, attempt: 1, digits: '', finishedOnKey: '#' });
      const second = go(again, { kind: 'digits', step: 1, attempt: 1, digits: '', finishedOnKey: '#', again: true });
      expect(second.verbs).toEqual([
        expect.objectContaining({ verb: 'gather', field: 'pin', attempt: 2, prompts: [{ say: "Sorry, I didn't hear anything." }, { say: 'pin please' }] }),
      ]);
      expect(second.verbs[0]).not.toHaveProperty('again');
    });

    test("not after a timeout (no key ended it), nor after an entry that did not end on its count, nor on the Gather's first action once asked again", () => {
      const timedOut = go(pinAsked(), { kind: 'digits', step: 1, attempt: 1, digits: '', finishedOnKey: '' });
      expect(timedOut.verbs).toEqual([expect.objectContaining({ field: 'pin', attempt: 2 })]);
      // the pin itself ended on '#' with too few digits: the next attempt's empty '#' is no stray
      const short = go(pinAsked(), { kind: 'digits', step: 1, attempt: 1, digits: '12', finishedOnKey: '#' });
      expect(short.session.strayKey).toBeUndefined();
      const empty = go(short, { kind: 'digits', step: 1, attempt: 2, digits: '', finishedOnKey: '#' });
      expect(empty.session.fields.pin).toMatchObject({ valid: false, reason: 'no-input' });
      // asked again: the first Gather's action (a late copy) is stale, changing nothing
      const again = go(pinAsked(), { kind: 'digits', step: 1, attempt: 1, digits: '', finishedOnKey: '#' });
      const late = go(again, { kind: 'digits', step: 1, attempt: 1, digits: '4321', finishedOnKey: '#' });
      expect(late.session).toEqual(again.session);
      expect(late.verbs).toEqual([expect.objectContaining({ field: 'pin', again: true })]);
    });
  });

  test('at the first webhook nothing is paused: the call still rings, and Twilio records no ringing call; the stretch opens with nothing to resume', () => {
    const s = session();
    s.recording = { status: 'none' };
    const r = advance(flow, { kind: 'start' }, s, { now });
    expect(r.effect).toBeUndefined();
    expect(r.verbs.map((v) => v.verb)).toEqual(['say', 'gather']);
    expect(r.session.recording).toEqual({ status: 'none', othersPaused: true });
  });

  test("a call answered before its first webhook (live: another application's <Redirect>) may be recording: the card waits for a pause, as any stretch does", () => {
    const s = session();
    s.recording = { status: 'none' };
    const r = advance(flow, { kind: 'start', live: true }, s, { now });
    expect(r.effect).toMatchObject({ kind: 'pause-recording' });
    expect(r.verbs.some((v) => v.verb === 'gather')).toBe(false);
    expect(r.session.recording.othersPaused).toBeUndefined();
  });

  describe("a call whose own recording does not run: the other recordings on it (another application's, started over REST) are paused for each sensitive stretch", () => {
    const OTHER = 'RE' + 'a'.repeat(32);
    /** the menu, a card, words, a reference (not sensitive), a code; then `handoff` */
    const unrecorded = (handoff = '  mode: dial\n  to: "client:alice"\n', record = false) =>
      parseFlow(
        'unrecorded.yaml',
        `id: unrecorded\nnumbers: ["+15005550007"]\nrecord: ${record}\nsteps:
  - collect: menu
    kind: digits
    sensitive: false
    minLength: 1
    maxLength: 1
    prompt: menu
  - collect: card
    kind: card-number
    prompt: card please
  - say: thanks
  - collect: ref
    kind: digits
    sensitive: false
    minLength: 1
    maxLength: 4
    prompt: reference
  - collect: cvv
    kind: security-code
    prompt: code please
handoff:
${handoff}`,
      );
    const f = unrecorded();
    const go = (r: EngineResult, input: Parameters<typeof advance>[1], fl = f) => advance(fl, input, r.session, { now });
    /** the pause took: the runner names on the session what it paused (none: nothing ran) */
    const paused = (r: EngineResult, sids: string[], fl = f) => {
      if (sids.length) r.session.recording.sids = sids;
      return go(r, { kind: 'recording', op: 'pause', ok: true }, fl);
    };
    /** the menu answered: the card waits for a pause */
    const atCard = (fl = f) => {
      const r = advance(fl, { kind: 'start' }, { ...session(), flowId: 'unrecorded', recording: { status: 'none' } }, { now });
      expect(r.session.recording.othersPaused).toBeUndefined(); // the menu closed the opening's empty stretch
      return go(r, { kind: 'digits', step: 0, attempt: 1, digits: '1', finishedOnKey: '#' }, fl);
    };

    test('a sensitive field after the menu waits for a pause; what it paused is resumed after the card, before the words', () => {
      let r = atCard();
      expect(r.effect).toEqual({ kind: 'pause-recording' });
      expect(r.verbs).toEqual([]);
      r = paused(r, [OTHER]);
      expect(r.session.recording).toMatchObject({ status: 'none', othersPaused: true, sids: [OTHER] });
      expect(r.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'card' })]);
      r = go(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111', finishedOnKey: '#' });
      expect(r.effect).toEqual({ kind: 'resume-recording' });
      expect(r.verbs).toEqual([]);
      r = go(r, { kind: 'recording', op: 'resume', ok: true });
      // the call's own status untouched: it records nothing
      expect(r.session.recording.status).toBe('none');
      expect(r.session.recording.othersPaused).toBeUndefined();
      expect(r.verbs).toEqual([{ verb: 'say', text: 'thanks' }, expect.objectContaining({ verb: 'gather', field: 'ref' })]);
    });

    test("resumed as the flow's own would be: held after a field that ended on its count, after a guard when it ended on silence", () => {
      const codeAsked = () => {
        let r = paused(atCard(), [OTHER]);
        r = go(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111', finishedOnKey: '#' });
        r = go(r, { kind: 'recording', op: 'resume', ok: true });
        r = go(r, { kind: 'digits', step: 3, attempt: 1, digits: '12', finishedOnKey: '#' });
        expect(r.effect).toEqual({ kind: 'pause-recording' });
        return paused(r, [OTHER]);
      };
      // the Visa's code: three keys end its Gather, and a fourth may follow
      const held = go(codeAsked(), { kind: 'digits', step: 4, attempt: 1, digits: '123', finishedOnKey: '' });
      expect(held.effect).toEqual({ kind: 'resume-recording' });
      expect(held.resumeNotBefore).toBe(now.getTime() + RESUME_HOLD_MS);
      expect(held.session.recording).toMatchObject({ status: 'none', othersPaused: true, sids: [OTHER] });
      // the card, ended on the caller's silence (no count ends a card number): a guard before the resume
      const silent = go(paused(atCard(), [OTHER]), { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111', finishedOnKey: '' });
      expect(silent.verbs).toEqual([expect.objectContaining({ verb: 'guard', step: 2 })]);
      expect(silent.effect).toBeUndefined();
      expect(go(silent, { kind: 'resume' }).effect).toEqual({ kind: 'resume-recording' });
    });

    test('a pause that found nothing running: the field is asked, and nothing is resumed, held or guarded after it', () => {
      const r = paused(atCard(), []);
      expect(r.session.recording).toMatchObject({ status: 'none', othersPaused: true });
      expect(r.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'card' })]);
      for (const finishedOnKey of ['', '#']) {
        const after = go(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111', finishedOnKey });
        expect(after.effect).toBeUndefined();
        expect(after.resumeNotBefore).toBeUndefined();
        expect(after.verbs).toEqual([{ verb: 'say', text: 'thanks' }, expect.objectContaining({ verb: 'gather', field: 'ref' })]);
        // closed with the prompt that is not sensitive: the code after it is paused for anew
        expect(after.session.recording.othersPaused).toBeUndefined();
        expect(go(after, { kind: 'digits', step: 3, attempt: 1, digits: '12', finishedOnKey: '#' }).effect).toEqual({ kind: 'pause-recording' });
      }
    });

    test('a pause that failed fails closed: no sensitive field asked, each failed recording-pause-failed, straight to handoff', () => {
      const asked = atCard();
      expect(asked.effect).toEqual({ kind: 'pause-recording' });
      const r = go(asked, { kind: 'recording', op: 'pause', ok: false });
      expect(r.verbs.map((v) => v.verb)).toEqual(['handoff']);
      expect(r.session.fields.card).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
      expect(r.session.fields.cvv).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
      expect(r.session.recording).toMatchObject({ status: 'none', pauseFailed: true });
      expect(r.session.recording.othersPaused).toBeUndefined();
      expect(r.session.recording.resumeFailed).toBeUndefined();
    });

    test('a pause that failed part-way, its undo unanswered: the hold before the bridge comes after it, and names until when it may still be carried out', () => {
      const bridged = unrecorded('  mode: bridge\n');
      const r = go(atCard(bridged), { kind: 'recording', op: 'pause', ok: false, lateUntil: 5 }, bridged);
      expect(r.effect).toEqual({ kind: 'hold-recordings' });
      expect(r.session.recording).toMatchObject({ status: 'none', pauseFailed: true, resumeFailed: { lateUntil: 5 } });
      // a later time already named (a resume before that failed too) is kept
      const earlier = atCard(bridged);
      earlier.session.recording.resumeFailed = { lateUntil: 9 };
      expect(go(earlier, { kind: 'recording', op: 'pause', ok: false, lateUntil: 5 }, bridged).session.recording.resumeFailed).toEqual({ lateUntil: 9 });
    });

    test('a resume that failed: the call goes on, and the next sensitive field is paused for again', () => {
      let r = paused(atCard(), [OTHER]);
      r = go(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111', finishedOnKey: '#' });
      r = go(r, { kind: 'recording', op: 'resume', ok: false, lateUntil: 5 });
      expect(r.session.recording).toMatchObject({ status: 'none', othersPaused: true, resumeFailed: { lateUntil: 5 } });
      expect(r.verbs).toEqual([{ verb: 'say', text: 'thanks' }, expect.objectContaining({ verb: 'gather', field: 'ref' })]);
      r = go(r, { kind: 'digits', step: 3, attempt: 1, digits: '12', finishedOnKey: '#' });
      expect(r.effect).toEqual({ kind: 'pause-recording' });
      r = paused(r, [OTHER]);
      expect(r.session.recording.resumeFailed).toBeUndefined();
      expect(r.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'cvv' })]);
    });

    test("a bridge: what the stretch paused is not resumed before it, but held for the whole bridge (another application's recording is never stopped)", () => {
      const bridged = unrecorded('  mode: bridge\n');
      let r = paused(atCard(bridged), [OTHER], bridged);
      r = go(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111', finishedOnKey: '#' }, bridged);
      // a question that is not sensitive follows the card: resumed for it
      r = go(r, { kind: 'recording', op: 'resume', ok: true }, bridged);
      r = go(r, { kind: 'digits', step: 3, attempt: 1, digits: '12', finishedOnKey: '#' }, bridged);
      r = paused(r, [OTHER], bridged);
      // only the bridge after the code: no resume, nor the hold for keys past its count
      r = go(r, { kind: 'digits', step: 4, attempt: 1, digits: '123', finishedOnKey: '' }, bridged);
      expect(r.effect).toEqual({ kind: 'hold-recordings' });
      expect(r.resumeNotBefore).toBeUndefined();
      expect(r.verbs).toEqual([]);
      // the runner takes the stretch's over into the bridge's hold
      r.session.recording.sids = undefined;
      r.session.handoff.recordingsHeld = [OTHER];
      r = go(r, { kind: 'recording', op: 'hold', ok: true }, bridged);
      expect(r.effect).toBeUndefined();
      expect(r.verbs.map((v) => v.verb)).toEqual(['handoff']);
      expect(r.session.recording).toMatchObject({ status: 'none' });
      expect(r.session.recording.othersPaused).toBeUndefined();
      expect(r.session.handoff.recordingsHeld).toEqual([OTHER]);
    });

    test('a bridge whose hold failed (a pause Twilio refused) is not made: the apology and a hang-up, as for a recording that could not be stopped', () => {
      const bridged = unrecorded('  mode: bridge\n');
      let r = paused(atCard(bridged), [], bridged);
      r = go(r, { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111', finishedOnKey: '#' }, bridged);
      r = go(r, { kind: 'digits', step: 3, attempt: 1, digits: '12', finishedOnKey: '#' }, bridged);
      r = paused(r, [], bridged);
      r = go(r, { kind: 'digits', step: 4, attempt: 1, digits: '123', finishedOnKey: '' }, bridged);
      expect(r.effect).toEqual({ kind: 'hold-recordings' });
      r = go(r, { kind: 'recording', op: 'hold', ok: false }, bridged);
      expect(r.effect).toBeUndefined();
      expect(r.verbs).toEqual([{ verb: 'say', text: HANDOFF_REFUSED }, { verb: 'hangup' }]);
      expect(r.session.handoff.holdFailed).toBe(true);
      // a dial hands off with no hold: the caller's call is <Dial>ed, and what it keys there is not tonewall's to mask
      const dialed = go(paused(atCard(), []), { kind: 'digits', step: 1, attempt: 1, digits: '4111111111111111', finishedOnKey: '#' });
      const end = go(paused(go(dialed, { kind: 'digits', step: 3, attempt: 1, digits: '12', finishedOnKey: '#' }), []), {
        kind: 'digits',
        step: 4,
        attempt: 1,
        digits: '123',
        finishedOnKey: '',
      });
      expect(end.effect).toBeUndefined();
      expect(end.verbs.map((v) => v.verb)).toEqual(['handoff']);
    });

    test('a recorded flow with others paused with its own before only words and a bridge: none resumed; its own stopped, then the others held for the bridge', () => {
      const cardThenBridge = parseFlow(
        'b.yaml',
        `id: b\nnumbers: ["+15005550007"]\nrecord: true\nsteps:\n  - collect: cvv\n    kind: security-code\n    prompt: code\n  - say: bye\nhandoff:\n  mode: bridge\n`,
      );
      const OWN = session().recording.sid!;
      const asked = (sids: string[]) => {
        const r = advance(cardThenBridge, { kind: 'start' }, { ...session(), flowId: 'b', cardBrand: 'visa' }, { now });
        return paused(r, sids, cardThenBridge);
      };
      // its own alone: stopped at once, never resumed (one REST call, not two); then the hold's list
      const alone = go(asked([]), { kind: 'digits', step: 0, attempt: 1, digits: '123', finishedOnKey: '' }, cardThenBridge);
      expect(alone.effect).toEqual({ kind: 'stop-recording' });
      expect(go(alone, { kind: 'recording', op: 'stop', ok: true }, cardThenBridge).effect).toEqual({ kind: 'hold-recordings' });
      // with another: nothing resumed (so no wait for keys past the code's count), its own stopped, the other held
      let r = go(asked([OWN, OTHER]), { kind: 'digits', step: 0, attempt: 1, digits: '123', finishedOnKey: '' }, cardThenBridge);
      expect(r.effect).toEqual({ kind: 'stop-recording' });
      expect(r.resumeNotBefore).toBeUndefined();
      expect(r.verbs).toEqual([{ verb: 'say', text: 'bye' }]);
      r = go(r, { kind: 'recording', op: 'stop', ok: true }, cardThenBridge);
      expect(r.effect).toEqual({ kind: 'hold-recordings' });
      r.session.recording.sids = undefined;
      r.session.handoff.recordingsHeld = [OTHER];
      r = go(r, { kind: 'recording', op: 'hold', ok: true }, cardThenBridge);
      expect(r.verbs.map((v) => v.verb)).toEqual(['handoff']);
      // a stop that failed: no bridge, and no hold asked for
      const refused = go(
        go(asked([OWN, OTHER]), { kind: 'digits', step: 0, attempt: 1, digits: '123', finishedOnKey: '' }, cardThenBridge),
        { kind: 'recording', op: 'stop', ok: false },
        cardThenBridge,
      );
      expect(refused.effect).toBeUndefined();
      expect(refused.verbs).toEqual([{ verb: 'say', text: HANDOFF_REFUSED }, { verb: 'hangup' }]);
    });

    test('a recorded flow whose recording has not started yet pauses the others alone, and its recording starts only after the stretch', () => {
      const recorded = unrecorded(undefined, true);
      // started with the menu: from there on its own is paused with the others
      let r = advance(recorded, { kind: 'start' }, { ...session(), flowId: 'unrecorded', recording: { status: 'none' } }, { now });
      expect(r.verbs[0]).toEqual({ verb: 'start-recording' });
      expect(r.session.recording.othersPaused).toBeUndefined();
      r = go(r, { kind: 'digits', step: 0, attempt: 1, digits: '1', finishedOnKey: '#' }, recorded);
      expect(r.effect).toEqual({ kind: 'pause-recording' });
      r = paused(r, [], recorded);
      expect(r.session.recording.status).toBe('paused');
      expect(r.session.recording.othersPaused).toBeUndefined();
      // the card first, in the first document (the call rings: nothing to pause); the recording starts with the prompt after it
      const first = parseFlow(
        'f.yaml',
        `id: f\nnumbers: ["+15005550007"]\nrecord: true\nsteps:\n  - collect: card\n    kind: card-number\n    prompt: card\n  - say: thanks\n  - collect: ref\n    kind: digits\n    sensitive: false\n    minLength: 1\n    maxLength: 4\n    prompt: reference\n  - collect: cvv\n    kind: security-code\n    prompt: code\nhandoff:\n  mode: dial\n  to: "client:alice"\n`,
      );
      r = advance(first, { kind: 'start' }, { ...session(), flowId: 'f', recording: { status: 'none' } }, { now });
      expect(r.effect).toBeUndefined();
      expect(r.verbs).toEqual([expect.objectContaining({ verb: 'gather', field: 'card' })]);
      r = go(r, { kind: 'digits', step: 0, attempt: 1, digits: '4111111111111111', finishedOnKey: '#' }, first);
      expect(r.verbs.map((v) => v.verb)).toEqual(['start-recording', 'say', 'gather']);
      expect(r.session.recording).toEqual({ status: 'in-progress' });
      // the code: the flow's own recording paused for it
      r = go(r, { kind: 'digits', step: 2, attempt: 1, digits: '12', finishedOnKey: '#' }, first);
      expect(r.effect).toEqual({ kind: 'pause-recording' });
      expect(paused(r, [], first).session.recording.status).toBe('paused');
    });
  });
});
