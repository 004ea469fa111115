/**
 * The capture state machine on its own: a fake bridge (an EventEmitter), the embedded store, a
 * recording controller that records what it was asked, and short timeouts.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import pino from 'pino';
import { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import { CaptureExecutor, CaptureRecords, captureView, type CaptureRecord, type KeyPress } from '../../../src/captures';
import type { ExecutorDeps } from '../../../src/captures/deps';
import type { CallEvent } from '../../../src/bus';
import { EmbeddedStore, makeKeys } from '../../../src/store';
import { DigitCollector } from '../../../src/captures/collector';
import { StoreErrors } from '../../../src/errors';
import { RESUME_HOLD_MS } from '../../../src/flows/engine';
import { createLogger, type Logger } from '../../../src/log';
import type { RecordingRef } from '../../../src/recording/stretch';
import { REST_TIMEOUT_MS } from '../../../src/twilio/rest';

const SID = 'CA' + '1'.repeat(32);

class FakeBridge extends EventEmitter<{ key: [KeyPress]; tone: []; lost: [] }> {
  blanket: boolean[] = [];
  setBlanket(on: boolean): void {
    this.blanket.push(on);
  }
  /** each key's tone told before the key, as media/bridge.ts tells them */
  press(keys: string): void {
    for (const digit of keys) {
      this.emit('tone');
      this.emit('key', { digit, source: 'inband', atSample: 0 });
    }
  }
  /** tones masked and never reported (a keypad off frequency) */
  offKeys(n: number): void {
    for (let i = 0; i < n; i++) this.emit('tone');
  }
}

function session(over: Partial<CallSession> = {}): CallSession {
  return {
    callSid: SID,
    accountSid: 'AC' + '0'.repeat(32),
    flowId: 'f',
    to: '+15005550006',
    fromMasked: '+*******4567',
    subject: 'x',
    state: 'bridged',
    step: 0,
    attempt: 0,
    recording: { sid: 'RE' + '2'.repeat(32), status: 'in-progress' },
    fields: {},
    handoff: { mode: 'bridge', agentSub: 'alice' },
    instanceId: 'i1',
    createdAt: Date.now(),
    updatedAt: Date.now(),
    ...over,
  };
}

/** the service's own logger (its redaction included), writing to lines the test reads */
function logStream(): { log: Logger; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      raw.push(String(chunk));
      cb();
    },
  });
  return { log: createLogger('debug', sink), lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>), text: () => raw.join('') };
}

/** resolves once `cond` holds, looked at every 2 ms */
async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}

/** what Twilio lists on each call (none listed: no recording) */
/** a call's recordings as Twilio lists them, or the error its list throws */
type Listed = Record<string, Array<{ sid: string; status: string }> | Error>;

async function setup(
  opts: {
    pauseOk?: boolean;
    /** the agent call's pause throws this (its audit entry not written: recording/controller.ts pauseAll) */
    pauseThrows?: Error;
    /** a resume (or, with pauseOk false, pauseAll's undo of its pauses) Twilio did not answer, sent this long ago */
    unansweredMsAgo?: number;
    s?: Partial<CallSession>;
    resumeFails?: Error;
    /** the recordings whose resume Twilio refuses (500) */
    refused?: (r: RecordingRef) => boolean;
    /** the recordings whose pause Twilio refuses (500) when the bridge is to hold them (holdEach) */
    holdRefused?: (r: RecordingRef) => boolean;
    log?: Logger;
    listed?: Listed;
    /** the agent call's pause is answered only once the promise settles (Twilio slow to acknowledge it) */
    pauseWaits?: Promise<void>;
    /** an audit entry of this type is appended only once the promise settles (the store slow to answer) */
    auditWaits?: { type: string; until: Promise<void> };
    /** told of each resumeAll as Twilio would receive it, before it is answered */
    onResume?: () => Promise<void>;
  } = {},
) {
  const store = new EmbeddedStore();
  const keys = makeKeys('t:');
  const calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
  await calls.create(session(opts.s));
  const bridge = new FakeBridge();
  /** the bridge gone from this instance (the registry's lookup finds none) */
  const lookup = { gone: false };
  const log: string[] = [];
  const events: CallEvent[] = [];
  const outcomes: string[] = [];
  const vaulted: Record<string, string> = {};
  const erased: string[] = [];
  const paused: RecordingRef[][] = [];
  const resumed: RecordingRef[][] = [];
  /** performance.now() of each resumeAll */
  const resumedAt: number[] = [];
  const audited: string[] = [];
  let minted = 0;
  const records = new CaptureRecords(store, keys);
  const deps: ExecutorDeps = {
    calls,
    records,
    recording: {
      pauseAll: async (recordings, auditCallSid) => {
        log.push(`pause:${bridge.listenerCount('key')}`);
        paused.push([...recordings]);
        await opts.pauseWaits;
        if (opts.pauseThrows) throw opts.pauseThrows;
        audited.push(auditCallSid ?? '');
        if (opts.pauseOk === false) return { ok: false, twilioStatus: '500', unansweredSentMsAgo: opts.unansweredMsAgo };
        return { ok: true, twilioStatus: '200' };
      },
      holdEach: async (recordings, auditCallSid) => {
        log.push(`hold:${bridge.listenerCount('key')}`);
        paused.push([...recordings]);
        audited.push(auditCallSid);
        const failed = recordings.filter((r) => opts.holdRefused?.(r)).map((recording) => ({ recording, twilioStatus: '500' }));
        return { paused: recordings.filter((r) => !opts.holdRefused?.(r)), failed };
      },
      resumeAll: async (recordings, auditCallSid) => {
        log.push(`resume:${bridge.listenerCount('key')}`);
        resumed.push([...recordings]);
        resumedAt.push(performance.now());
        audited.push(auditCallSid ?? '');
        await opts.onResume?.();
        if (opts.resumeFails) throw opts.resumeFails;
        if (opts.unansweredMsAgo !== undefined) return { ok: false, twilioStatus: 'timeout', failed: recordings, unansweredSentMsAgo: opts.unansweredMsAgo };
        const failed = recordings.filter((r) => opts.refused?.(r));
        return failed.length ? { ok: false, twilioStatus: '500', failed } : { ok: true, twilioStatus: '200' };
      },
      refuseUnlisted: async (callSid) => {
        log.push(`unlisted:${callSid}`);
        return { ok: false, twilioStatus: 'unlisted' };
      },
    },
    recordings: async (callSid) => {
      const listed = opts.listed?.[callSid];
      if (listed instanceof Error) throw listed;
      return listed ?? [];
    },
    // the first token of a field is tok_<field>, later ones tok_<field>_<n>
    vault: {
      put: async (_c, field, plain) => ((vaulted[field] = plain), ++minted === 1 ? `tok_${field}` : `tok_${field}_${minted}`),
      erase: async (t) => void erased.push(t),
      eraseCall: async (c) => void erased.push(`call:${c}`),
    },
    audit: {
      append: async (_c, e) => {
        log.push(`audit:${e.type}`);
        if (opts.auditWaits?.type === e.type) await opts.auditWaits.until;
      },
    },
    events: { publish: async (e) => void events.push(e) },
    metrics: { inc: ({ outcome }) => void outcomes.push(outcome) },
    bridges: (sid) => (sid === SID && !lookup.gone ? bridge : undefined),
    log: opts.log ?? pino({ level: 'silent' }),
    instanceId: 'i1',
    timings: { idleMs: 100, firstKeyMs: 200, maxMs: 2000 },
    restTimeoutMs: REST_TIMEOUT_MS,
  };
  const ex = new CaptureExecutor(deps);
  const settled = (type: string) =>
    new Promise<CallEvent>((resolve) => {
      const t = setInterval(() => {
        const e = events.find((x) => x.type === type);
        if (e) {
          clearInterval(t);
          resolve(e);
        }
      }, 5);
    });
  return { lookup, store, keys, calls, bridge, log, events, outcomes, vaulted, erased, records, ex, deps, settled, paused, resumed, resumedAt, audited };
}

/** a bridged call whose agent call's own recording is `status` */
const bridgedRecording = (status: 'paused' | 'in-progress'): Partial<CallSession> => ({
  handoff: { mode: 'bridge', agentCallSid: 'CA' + '3'.repeat(32) },
  agentRecording: { sid: 'RE' + '4'.repeat(32), status },
});

/**
 * What an instance lost with its capture leaves: the capture's record (a card capture running,
 * nothing keyed, `record` over it; none with null), its lock, and the call's record naming it running.
 */
async function leftByLost(t: Awaited<ReturnType<typeof setup>>, captureId: string, record: Partial<CaptureRecord> | null = {}): Promise<void> {
  if (record)
    await t.records.save({
      captureId,
      callSid: SID,
      name: 'card',
      kind: 'card-number',
      blanket: false,
      status: 'capturing',
      entered: 0,
      masked: '',
      startedAt: 1,
      ...record,
    });
  expect(await t.records.lock(SID, captureId, 150)).toBe(true);
  await t.calls.update(SID, (s) => void (s.capture = { id: captureId, name: 'card', kind: 'card-number', status: 'capturing' }));
}

describe('DigitCollector', () => {
  it('takes digits up to the maximum, finishes on #, ignores other keys', () => {
    const c = new DigitCollector(3);
    expect(['1', '*', 'A', '2', '3', '4'].map((k) => c.push(k))).toEqual(['digit', 'ignored', 'ignored', 'digit', 'full', 'ignored']);
    expect(c.push('#')).toBe('finish');
    expect(c.entered).toBe(3);
    c.wipe();
    expect(c.digits).toBe('');
  });
});

describe('CaptureExecutor', () => {
  it('listens for keys only after the pause, resumes after, vaults the value and keeps it masked', async () => {
    const t = await setup();
    const r = await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    expect(r.ok).toBe(true);
    expect(t.log[0]).toBe('pause:0');
    expect(t.bridge.listenerCount('key')).toBe(1);
    t.bridge.press('4111111111111111#');
    const done = await t.settled('capture.completed');
    expect(done).toMatchObject({ masked: '************1111', brand: 'visa', last4: '1111', valid: true, entered: 16 });
    expect(t.log).toContain('resume:0');
    expect(t.vaulted.card).toBe('4111111111111111');
    const s = await t.calls.get(SID);
    expect(s?.fields.card).toMatchObject({ masked: '************1111', token: 'tok_card', source: 'capture', valid: true });
    expect(s?.cardBrand).toBe('visa');
    expect(s?.capture?.status).toBe('completed');
    expect(t.events.filter((e) => e.type === 'capture.progress').map((e) => e.masked)).toEqual(Array.from({ length: 16 }, (_, i) => '*'.repeat(i + 1)));
    expect(JSON.stringify(t.events)).not.toMatch(/41111/);
    expect(JSON.stringify(await t.store.get(t.keys.capture(SID, (r as { captureId: string }).captureId)))).not.toMatch(/41111/);
    expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
    expect(t.outcomes).toEqual(['completed']);
  });

  it('ends at the maximum length: a security code is 4 digits when the card is amex', async () => {
    const t = await setup({ s: { cardBrand: 'amex' } });
    await t.ex.start(SID, { name: 'cvv', kind: 'security-code' });
    t.bridge.press('1234');
    expect(await t.settled('capture.completed')).toMatchObject({ masked: '****', entered: 4 });
  });

  it('ends IDLE after the last key, and fails with no-input when nothing is keyed', async () => {
    const t = await setup();
    await t.ex.start(SID, { name: 'exp', kind: 'expiry' });
    t.bridge.press('12');
    const failed = await t.settled('capture.failed');
    expect(failed).toMatchObject({ reason: 'length', masked: '**', valid: false });
    const u = await setup();
    await u.ex.start(SID, { name: 'exp', kind: 'expiry' });
    expect(await u.settled('capture.failed')).toMatchObject({ reason: 'no-input', entered: 0 });
    expect(u.log.filter((l) => l.startsWith('resume'))).toHaveLength(1);
  });

  it('refuses when the pause fails, leaving no state; one capture at a time; blanket on and off', async () => {
    const t = await setup({ pauseOk: false });
    expect(await t.ex.start(SID, { name: 'card', kind: 'card-number' })).toEqual({ ok: false, error: 'recording-pause-failed' });
    expect(t.bridge.listenerCount('key')).toBe(0);
    expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
    expect((await t.calls.get(SID))?.capture).toBeUndefined();
    expect(t.events).toEqual([]);

    const u = await setup();
    const r = await u.ex.start(SID, { name: 'card', kind: 'card-number', blanket: true });
    expect(u.bridge.blanket).toEqual([true]);
    expect(await u.ex.start(SID, { name: 'cvv', kind: 'security-code' })).toEqual({ ok: false, error: 'capture-running' });
    expect(await u.ex.cancel(SID, (r as { captureId: string }).captureId)).toEqual({ ok: true });
    expect(u.bridge.blanket).toEqual([true, false]);
    expect(await u.settled('capture.failed')).toMatchObject({ reason: 'cancelled' });
    expect((await u.records.get(SID, (r as { captureId: string }).captureId))?.status).toBe('cancelled');
  });

  it("a start refused, or failed, after its lock expired and the call's next capture took it leaves that capture its lock", async () => {
    for (const fault of [{ pauseOk: false }, { pauseThrows: StoreErrors.unavailable() }]) {
      let answer!: () => void;
      const t = await setup({ ...fault, pauseWaits: new Promise<void>((r) => (answer = r)) });
      const starting = t.ex.start(SID, { name: 'card', kind: 'card-number' });
      await waitUntil(() => t.paused.length === 1);
      // while Twilio is slow to answer the pause, the start's lock expires (gone, as its expiry
      // takes it) and the call's next capture takes it, on the instance the bridge moved to
      await t.store.del(t.keys.captureLock(SID));
      expect(await t.records.lock(SID, 'cap_next', 150)).toBe(true);
      answer();
      if (fault.pauseOk === false) expect(await starting).toEqual({ ok: false, error: 'recording-pause-failed' });
      else await expect(starting).rejects.toMatchObject({ code: 'TW_ERR_STORE_UNAVAILABLE' });
      expect(await t.records.holder(SID)).toBe('cap_next');
    }
  });

  it("a capture cancelled while its start is still announced leaves no blanket on and no key listener behind: the call's next capture hears each key once", async () => {
    let release!: () => void;
    const t = await setup({ auditWaits: { type: 'capture.started', until: new Promise<void>((r) => (release = r)) } });
    const starting = t.ex.start(SID, { name: 'card', kind: 'card-number', blanket: true });
    // the call's record names the capture (a panel, or the socket's capture.cancel, finds it), its audit entry not yet written
    await waitUntil(() => t.log.includes('audit:capture.started'));
    const id = (await t.calls.get(SID))?.capture?.id;
    expect(id).toBeDefined();
    const cancelled = t.ex.cancel(SID, id!);
    await new Promise((r) => setTimeout(r, 20));
    release();
    expect(await starting).toEqual({ ok: true, captureId: id });
    expect(await cancelled).toEqual({ ok: true });
    // the start told first, then its end; the blanket down, nothing listening
    expect(t.events.map((e) => e.type)).toEqual(['capture.started', 'capture.failed']);
    expect(t.bridge.blanket.at(-1)).toBe(false);
    expect(t.bridge.listenerCount('key')).toBe(0);
    expect(t.bridge.listenerCount('lost')).toBe(0);
    expect(t.ex.isRunning(SID)).toBe(false);

    const next = await t.ex.start(SID, { name: 'cvv', kind: 'security-code' });
    expect(next.ok).toBe(true);
    expect(t.bridge.listenerCount('key')).toBe(1);
    t.bridge.press('123');
    expect(await t.settled('capture.completed')).toMatchObject({ masked: '***', entered: 3 });
    expect(t.vaulted.cvv).toBe('123');
  });

  it('refuses a call that is not bridged here', async () => {
    const t = await setup({ s: { state: 'offered' } });
    expect(await t.ex.start(SID, { name: 'card', kind: 'card-number' })).toEqual({ ok: false, error: 'not-bridged' });
    expect(t.log).toEqual([]);
  });
  it('fails an entry that does not validate, keeping only its masked form', async () => {
    const t = await setup();
    await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    t.bridge.press('4111111111111112#');
    const failed = await t.settled('capture.failed');
    expect(failed).toMatchObject({ reason: 'luhn', valid: false, entered: 16 });
    expect(t.vaulted).toEqual({});
    expect((await t.calls.get(SID))?.fields.card).toMatchObject({ valid: false, reason: 'luhn', source: 'capture' });
    expect((await t.calls.get(SID))?.fields.card.token).toBeUndefined();
    expect(t.outcomes).toEqual(['invalid']);
  });

  it('shows no digit of a failed card: all *, no last4, no brand, in the event, the record and the field', async () => {
    const t = await setup();
    const r = await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    // the last four keys (1737) are what an agent could steer into being the security code
    t.bridge.press('4111111111111737#');
    const failed = await t.settled('capture.failed');
    expect(failed).toMatchObject({ masked: '*'.repeat(16), valid: false });
    expect(failed).not.toHaveProperty('last4');
    expect(failed).not.toHaveProperty('brand');
    const record = await t.records.get(SID, (r as { captureId: string }).captureId);
    const field = (await t.calls.get(SID))?.fields.card;
    expect(record).toMatchObject({ masked: '*'.repeat(16), valid: false, status: 'failed' });
    expect(field).toEqual(expect.objectContaining({ masked: '*'.repeat(16), valid: false }));
    for (const seen of [failed, record, field]) {
      expect(JSON.stringify(seen)).not.toMatch(/1737|visa/);
    }
  });

  it('never lets a failed capture overwrite a field that was valid', async () => {
    const t = await setup();
    await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    t.bridge.press('4111111111111111#');
    await t.settled('capture.completed');
    t.events.length = 0;
    await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    t.bridge.press('4111111111111112#');
    await t.settled('capture.failed');
    const s = await t.calls.get(SID);
    expect(s?.fields.card).toMatchObject({ masked: '************1111', valid: true, token: 'tok_card' });
    expect(s?.cardBrand).toBe('visa');
    expect(t.erased).toEqual([]);
  });

  it('erases the value a second valid capture of the field replaced, at once', async () => {
    const t = await setup();
    await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    t.bridge.press('4111111111111111#');
    await t.settled('capture.completed');
    t.events.length = 0;
    await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    t.bridge.press('5555555555554444#');
    await t.settled('capture.completed');
    expect((await t.calls.get(SID))?.fields.card).toMatchObject({ last4: '4444', token: 'tok_card_2' });
    expect(t.erased).toEqual(['tok_card']);
  });

  it('under a blanket, publishes no progress per key and keeps the count out of every result', async () => {
    const t = await setup();
    await t.ex.start(SID, { name: 'card', kind: 'card-number', blanket: true });
    t.bridge.press('4111111111111111#');
    const done = await t.settled('capture.completed');
    expect(t.events.map((e) => e.type)).toEqual(['capture.started', 'capture.completed']);
    expect(done).toMatchObject({ masked: '************1111', valid: true });

    const u = await setup();
    const r = await u.ex.start(SID, { name: 'exp', kind: 'expiry', blanket: true });
    u.bridge.press('12');
    const failed = await u.settled('capture.failed');
    expect(u.events.map((e) => e.type)).toEqual(['capture.started', 'capture.failed']);
    expect(failed).toMatchObject({ masked: '', entered: 0, valid: false });
    expect(await u.records.get(SID, (r as { captureId: string }).captureId)).toMatchObject({ masked: '', entered: 0 });
    expect((await u.calls.get(SID))?.fields.exp).toMatchObject({ masked: '', valid: false });
  });

  it('ends with the call: failed call-ended, listener gone, recording resumed (at once: no key can follow)', async () => {
    const t = await setup();
    await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    t.bridge.press('41');
    const keyedAt = performance.now();
    await t.ex.abort(SID, 'call-ended');
    expect(t.resumedAt[0] - keyedAt).toBeLessThan(RESUME_HOLD_MS);
    expect(await t.settled('capture.failed')).toMatchObject({ reason: 'call-ended' });
    expect(t.bridge.listenerCount('key')).toBe(0);
    expect(t.log.filter((l) => l.startsWith('resume'))).toHaveLength(1);
    expect(t.ex.isRunning(SID)).toBe(false);
  });

  it('ends at once when its bridge is lost to this instance: failed bridge-lost, recording resumed, lock released', async () => {
    const t = await setup();
    const r = await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    t.bridge.press('41');
    t.bridge.emit('lost');
    expect(await t.settled('capture.failed')).toMatchObject({ reason: 'bridge-lost' });
    expect(t.bridge.listenerCount('key')).toBe(0);
    expect(t.bridge.listenerCount('lost')).toBe(0);
    expect(t.log.filter((l) => l.startsWith('resume'))).toHaveLength(1);
    expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
    expect(await t.records.get(SID, r.ok ? r.captureId : '')).toMatchObject({ status: 'failed', reason: 'bridge-lost' });
  });

  it('ends at once when its bridge is lost while its start awaits the pause: failed bridge-lost, not left running until its first-key timeout', async () => {
    let acknowledge!: () => void;
    const t = await setup({ pauseWaits: new Promise<void>((r) => (acknowledge = r)) });
    const starting = t.ex.start(SID, { name: 'card', kind: 'card-number', blanket: true });
    await waitUntil(() => t.paused.length === 1);
    // lost to this instance before the capture listens: the registry forgets it, then tells `lost`
    t.lookup.gone = true;
    t.bridge.emit('lost');
    acknowledge();
    expect((await starting).ok).toBe(true);
    expect(await t.settled('capture.failed')).toMatchObject({ reason: 'bridge-lost' });
    expect(t.bridge.listenerCount('key')).toBe(0);
    expect(t.bridge.listenerCount('lost')).toBe(0);
    expect(t.bridge.blanket.at(-1)).toBe(false);
    expect(t.resumed).toHaveLength(1);
    expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
  });

  describe('the hold after the last key', () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it('a capture that ends on its count resumes RESUME_HOLD_MS after the last key; keys past the count count into nothing, and keep it held', async () => {
      const t = await setup();
      const r = await t.ex.start(SID, { name: 'cvv', kind: 'security-code', blanket: true });
      const captureId = r.ok ? r.captureId : '';
      t.bridge.press('123');
      // held: still listening (the keys past the count go nowhere), under the blanket, nothing settled yet
      await sleep(RESUME_HOLD_MS / 2);
      t.bridge.press('45#');
      const lastKeyAt = performance.now();
      await sleep(RESUME_HOLD_MS / 2);
      expect(t.resumed).toEqual([]);
      expect(t.bridge.listenerCount('key')).toBe(1);
      expect(t.bridge.blanket).toEqual([true]);
      // what an instance lost now leaves for lost.ts: the capture running, its lock, no value anywhere
      expect(t.vaulted).toEqual({});
      expect((await t.calls.get(SID))?.fields.cvv).toBeUndefined();
      expect((await t.calls.get(SID))?.capture?.status).toBe('capturing');
      expect(await t.store.get(t.keys.captureLock(SID))).not.toBeNull();

      const done = await t.settled('capture.completed');
      expect(t.resumedAt[0] - lastKeyAt).toBeGreaterThanOrEqual(RESUME_HOLD_MS);
      expect(t.log.filter((l) => l.startsWith('resume'))).toEqual(['resume:0']);
      expect(t.bridge.blanket).toEqual([true, false]);
      expect(done).toMatchObject({ masked: '***', valid: true });
      expect(t.vaulted.cvv).toBe('123');
      expect(await t.records.get(SID, captureId)).toMatchObject({ status: 'completed', entered: 3 });
    });

    it('tones the bridge masks and never reports (keys off frequency) past the count keep it held, RESUME_HOLD_MS after the last of them', async () => {
      const t = await setup();
      await t.ex.start(SID, { name: 'cvv', kind: 'security-code' });
      t.bridge.press('123');
      await sleep(RESUME_HOLD_MS / 2);
      t.bridge.offKeys(2);
      await sleep(RESUME_HOLD_MS / 2);
      t.bridge.offKeys(1);
      const lastToneAt = performance.now();
      await sleep(RESUME_HOLD_MS / 2);
      expect(t.resumed).toEqual([]);
      expect(t.bridge.listenerCount('tone')).toBe(1);
      await t.settled('capture.completed');
      expect(t.resumedAt[0] - lastToneAt).toBeGreaterThanOrEqual(RESUME_HOLD_MS);
      expect(t.bridge.listenerCount('tone')).toBe(0);
    });

    it("nothing is held after the '#' that ends an entry", async () => {
      const t = await setup();
      await t.ex.start(SID, { name: 'card', kind: 'card-number' });
      t.bridge.press('4111111111111111#');
      const keyedAt = performance.now();
      await t.settled('capture.completed');
      expect(t.resumedAt[0] - keyedAt).toBeLessThan(RESUME_HOLD_MS);
    });

    it('a capture cancelled as the caller keys resumes RESUME_HOLD_MS after the last key', async () => {
      const t = await setup();
      const r = await t.ex.start(SID, { name: 'card', kind: 'card-number' });
      t.bridge.press('411');
      const cancelled = t.ex.cancel(SID, r.ok ? r.captureId : '');
      await sleep(RESUME_HOLD_MS / 2);
      t.bridge.press('11');
      const lastKeyAt = performance.now();
      expect(await cancelled).toEqual({ ok: true });
      expect(t.resumedAt[0] - lastKeyAt).toBeGreaterThanOrEqual(RESUME_HOLD_MS);
      expect(await t.settled('capture.failed')).toMatchObject({ reason: 'cancelled', entered: 3 });
    });
  });

  describe("another application's recordings on the bridge's calls", () => {
    const AGENT_CALL = 'CA' + '3'.repeat(32);
    const OWN = 'RE' + '4'.repeat(32);
    const ON_CALLER = 'RE' + '5'.repeat(32);
    const ON_AGENT = 'RE' + '6'.repeat(32);
    const bridged = { handoff: { mode: 'bridge' as const, agentCallSid: AGENT_CALL }, agentRecording: { sid: OWN, status: 'in-progress' as const } };
    const listed = {
      [SID]: [
        { sid: ON_CALLER, status: 'in-progress' },
        { sid: 'RE' + '7'.repeat(32), status: 'completed' },
      ],
      [AGENT_CALL]: [
        { sid: OWN, status: 'in-progress' },
        { sid: ON_AGENT, status: 'in-progress' },
        { sid: 'RE' + '8'.repeat(32), status: 'paused' },
      ],
    } satisfies Listed;
    const all = [
      { callSid: AGENT_CALL, recordingSid: OWN },
      { callSid: AGENT_CALL, recordingSid: ON_AGENT },
      { callSid: SID, recordingSid: ON_CALLER },
    ];
    /** what a capture's end resumes: the agent call's; the caller's call's other stays paused, held by the bridge */
    const agentCalls = all.slice(0, 2);

    it("pauses, with the agent call's own, every one in progress on either call, all at once and before any key; resumes the agent call's after, and leaves the caller's call's to the bridge's hold; audits on the caller's call", async () => {
      const t = await setup({ s: bridged, listed });
      const r = await t.ex.start(SID, { name: 'card', kind: 'card-number' });
      expect(r.ok).toBe(true);
      expect(t.log.slice(0, 2)).toEqual(['pause:0', 'hold:0']);
      // the agent call's all or none, then the caller's call's, for the bridge to hold
      expect(t.paused).toEqual([agentCalls, all.slice(2)]);
      // the record names them, so whichever instance ends the capture resumes them (lost.ts); agents never see them
      const record = await t.records.get(SID, r.ok ? r.captureId : '');
      expect(record?.recordings).toEqual(all);
      expect(captureView(record!)).not.toHaveProperty('recordings');
      t.bridge.press('4111111111111111#');
      await t.settled('capture.completed');
      expect(t.resumed).toEqual([agentCalls]);
      expect(t.audited).toEqual([SID, SID, SID]);
      // one running on the caller's call since the handoff is taken into the hold, with what it held
      expect((await t.calls.get(SID))?.handoff.recordingsHeld).toEqual([ON_CALLER]);
      expect(t.log).toContain('audit:recording.held');
    });

    it("the bridge's hold keeps what it held: one Twilio lists paused on the caller's call is not paused for a capture, nor resumed after", async () => {
      const HELD = 'RE' + '9'.repeat(32);
      const t = await setup({
        s: { ...bridged, handoff: { ...bridged.handoff, recordingsHeld: [HELD] } },
        listed: { ...listed, [SID]: [{ sid: HELD, status: 'paused' }] },
      });
      const r = await t.ex.start(SID, { name: 'card', kind: 'card-number' });
      expect(r.ok).toBe(true);
      expect(t.paused).toEqual([agentCalls]);
      t.bridge.press('4111111111111111#');
      await t.settled('capture.completed');
      expect(t.resumed).toEqual([agentCalls]);
      expect((await t.calls.get(SID))?.handoff.recordingsHeld).toEqual([HELD]);
      expect(t.log).not.toContain('audit:recording.held');
    });

    it('refused when one cannot be paused (pauseAll fails closed): no key is listened to, and nothing is left behind', async () => {
      const t = await setup({ s: bridged, listed, pauseOk: false });
      expect(await t.ex.start(SID, { name: 'card', kind: 'card-number' })).toEqual({ ok: false, error: 'recording-pause-failed' });
      expect(t.paused).toEqual([agentCalls]);
      expect(t.bridge.listenerCount('key')).toBe(0);
      expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
      expect(t.outcomes).toEqual(['recording-pause-failed']);
    });

    it("refused when either call's recordings cannot be listed (a recording nobody saw would hear the value): nothing paused, no key listened to, counted as a failed pause", async () => {
      for (const unreadable of [SID, AGENT_CALL]) {
        const t = await setup({ s: bridged, listed: { ...listed, [unreadable]: new Error('Service Unavailable') } });
        expect(await t.ex.start(SID, { name: 'card', kind: 'card-number' })).toEqual({ ok: false, error: 'recording-pause-failed' });
        expect(t.paused).toEqual([]);
        expect(t.log).toContain(`unlisted:${SID}`);
        expect(t.bridge.listenerCount('key')).toBe(0);
        expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
        expect(t.outcomes).toEqual(['recording-pause-failed']);
      }
    });

    it("the agent call's own recording not yet known by its SID: Twilio.CURRENT there, unlisted, with the caller's call's others", async () => {
      const t = await setup({ s: { ...bridged, agentRecording: { status: 'in-progress' } }, listed });
      await t.ex.start(SID, { name: 'card', kind: 'card-number' });
      expect(t.paused).toEqual([[{ callSid: AGENT_CALL }], [{ callSid: SID, recordingSid: ON_CALLER }]]);
    });

    it("refused when one on the caller's call cannot be paused: the agent call's run again, and those the capture paused on the caller's call stay paused, held by the bridge, never resumed (the bridge's guard may hold them already)", async () => {
      const REFUSED = 'RE' + 'a'.repeat(32);
      const t = await setup({
        s: bridged,
        listed: { ...listed, [SID]: [...listed[SID], { sid: REFUSED, status: 'in-progress' }] },
        holdRefused: (r) => r.recordingSid === REFUSED,
      });
      expect(await t.ex.start(SID, { name: 'card', kind: 'card-number' })).toEqual({ ok: false, error: 'recording-pause-failed' });
      expect(t.paused).toEqual([
        agentCalls,
        [
          { callSid: SID, recordingSid: ON_CALLER },
          { callSid: SID, recordingSid: REFUSED },
        ],
      ]);
      expect(t.resumed).toEqual([agentCalls]);
      expect((await t.calls.get(SID))?.handoff.recordingsHeld).toEqual([ON_CALLER]);
      expect(t.log).toContain('audit:recording.held');
      expect(t.bridge.listenerCount('key')).toBe(0);
      expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
      expect(t.outcomes).toEqual(['recording-pause-failed']);
    });

    it("refused after a pause went through, its undo unanswered (pauseAll's own, or the resume after the caller's call's refused): the call names until when the undo may land, for the next capture on any instance; a later time named there is kept", async () => {
      const REFUSED = 'RE' + 'a'.repeat(32);
      const cases = [
        { pauseOk: false, listed },
        { listed: { ...listed, [SID]: [{ sid: REFUSED, status: 'in-progress' }] }, holdRefused: (r: RecordingRef) => r.recordingSid === REFUSED },
      ];
      for (const c of cases) {
        for (const namedBefore of [undefined, Date.now() + 60_000]) {
          const t = await setup({ s: { ...bridged, captureResumeLateUntil: namedBefore }, unansweredMsAgo: 3_000, ...c });
          const before = Date.now();
          expect(await t.ex.start(SID, { name: 'card', kind: 'card-number' })).toEqual({ ok: false, error: 'recording-pause-failed' });
          const lateUntil = (await t.calls.get(SID))?.captureResumeLateUntil;
          if (namedBefore) expect(lateUntil).toBe(namedBefore);
          else {
            // sent 3 s ago: over once the REST client gives up on it, REST_TIMEOUT_MS after it was sent
            expect(lateUntil).toBeGreaterThanOrEqual(before + REST_TIMEOUT_MS - 3_000);
            expect(lateUntil).toBeLessThanOrEqual(Date.now() + REST_TIMEOUT_MS - 3_000);
          }
          expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
        }
      }
    });

    it("a resume refused for another application's recording alone: the agent call's own runs again, and shows so; refused for the own, it shows paused", async () => {
      for (const [refused, shown] of [
        [ON_AGENT, 'in-progress'],
        [OWN, 'paused'],
      ] as const) {
        const t = await setup({ s: bridged, listed, refused: (r) => r.recordingSid === refused || (refused === OWN && r.recordingSid === undefined) });
        const r = await t.ex.start(SID, { name: 'card', kind: 'card-number' });
        expect(r.ok).toBe(true);
        t.bridge.press('4111111111111111#');
        await t.settled('capture.completed');
        expect((await t.calls.get(SID))?.agentRecording?.status).toBe(shown);
        // another application's left paused is kept for the next capture to take in; the own is not
        expect((await t.calls.get(SID))?.heldRecordings).toEqual(refused === ON_AGENT ? [{ callSid: AGENT_CALL, recordingSid: ON_AGENT }] : undefined);
      }
    });

    it("a capture lost with its instance resumes every recording its record names on the agent's call, and leaves the caller's call's to the bridge's hold", async () => {
      const t = await setup({ s: { ...bridged, agentRecording: { sid: OWN, status: 'paused' } } });
      await leftByLost(t, 'cap_lost', { recordings: all });
      await t.ex.settleLost(SID);
      expect(t.resumed).toEqual([agentCalls]);
      expect((await t.calls.get(SID))?.agentRecording?.status).toBe('in-progress');
      expect((await t.calls.get(SID))?.handoff.recordingsHeld).toEqual([ON_CALLER]);
    });
  });

  it('settles a capture its instance was lost with: failed bridge-lost, recording resumed, lock released, once', async () => {
    const t = await setup({ s: bridgedRecording('paused') });
    // what the lost instance left: the record, the lock, the call naming the capture running
    const captureId = 'cap_lost';
    await leftByLost(t, captureId, { entered: 6, masked: '******' });

    await t.ex.settleLost(SID);
    expect(t.events.filter((e) => e.type === 'capture.failed')).toEqual([expect.objectContaining({ captureId, reason: 'bridge-lost', entered: 6 })]);
    expect(t.log).toEqual(['resume:0', 'audit:capture.failed']);
    expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
    expect(await t.records.get(SID, captureId)).toMatchObject({ status: 'failed', reason: 'bridge-lost' });
    expect((await t.calls.get(SID))?.capture?.status).toBe('failed');
    expect((await t.calls.get(SID))?.agentRecording?.status).toBe('in-progress');
    expect(t.outcomes).toEqual(['failed']);
    // a second take-up finds nothing running
    await t.ex.settleLost(SID);
    expect(t.events.filter((e) => e.type === 'capture.failed')).toHaveLength(1);
  });

  it('keeps the lost capture its lock until its resume is over and written (the next capture, on any instance, pauses after it); two settlers at once resume once', async () => {
    let t: Awaited<ReturnType<typeof setup>> | undefined = undefined;
    const atResume: Array<{ lock: string | null; capture?: string }> = [];
    t = await setup({
      s: bridgedRecording('paused'),
      onResume: async () => {
        const s = await t!.calls.get(SID);
        atResume.push({ lock: await t!.store.get(t!.keys.captureLock(SID)), capture: s?.capture?.status });
      },
    });
    const captureId = 'cap_lost';
    await leftByLost(t, captureId);

    await Promise.all([t.ex.settleLost(SID), t.ex.settleLost(SID)]);
    // one settler claimed it (the call's record turned from capturing to failed): it alone resumed, the lock still held
    expect(atResume).toEqual([{ lock: captureId, capture: 'failed' }]);
    expect(t.events.filter((e) => e.type === 'capture.failed')).toHaveLength(1);
    expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
  });

  it('a capture ending as the instance that took its call up settles it: one of the two resumes, with the lock held until its outcome is written', async () => {
    let t: Awaited<ReturnType<typeof setup>> | undefined = undefined;
    const atResume: Array<{ lock: string | null; capture?: string }> = [];
    let settling: Promise<void> | undefined;
    t = await setup({
      s: bridgedRecording('in-progress'),
      onResume: async () => {
        const s = await t!.calls.get(SID);
        atResume.push({ lock: await t!.store.get(t!.keys.captureLock(SID)), capture: s?.capture?.status });
        // the instance that took the call up settles it while this resume is under way (its own resume, if any, comes here too)
        if (settling) return;
        settling = new CaptureExecutor({ ...t!.deps, bridges: () => undefined, instanceId: 'i2' }).settleLost(SID);
        await settling;
      },
    });
    const r = await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    const captureId = r.ok ? r.captureId : '';
    t.bridge.emit('lost');
    await waitUntil(() => !t!.ex.isRunning(SID));
    // this end claimed it (the call's record no longer says capturing) before its resume: the settler resumed nothing
    expect(atResume).toEqual([{ lock: captureId, capture: 'failed' }]);
    expect(t.events.filter((e) => e.type === 'capture.failed')).toEqual([expect.objectContaining({ captureId, reason: 'bridge-lost' })]);
    expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
    expect((await t.calls.get(SID))?.agentRecording?.status).toBe('in-progress');
  });

  it('settles a lost capture whose record cannot be read once it is claimed: the recording resumed, the lock released, its end told', async () => {
    const t = await setup({ s: bridgedRecording('paused') });
    const captureId = 'cap_unread';
    await leftByLost(t, captureId, null);
    // the store refuses the read of the capture's record (a command timed out), and answers the rest
    const store = Object.create(t.store) as typeof t.store;
    store.get = async (key: string) => {
      if (key === t.keys.capture(SID, captureId)) throw StoreErrors.unavailable({ detail: 'Redis did not answer within 500 ms' });
      return t.store.get(key);
    };
    const settler = new CaptureExecutor({ ...t.deps, records: new CaptureRecords(store, t.keys), bridges: () => undefined, instanceId: 'i2' });
    await settler.settleLost(SID);
    // claimed (failed) before the read: nobody else would resume it, so this settler does, the bridge's own recording
    expect(t.resumed).toHaveLength(1);
    expect(await t.store.get(t.keys.captureLock(SID))).toBeNull();
    expect((await t.calls.get(SID))?.agentRecording?.status).toBe('in-progress');
    expect(t.events.filter((e) => e.type === 'capture.failed')).toEqual([expect.objectContaining({ captureId, reason: 'bridge-lost' })]);
  });

  it('a capture that ends after the instance that took its call up settled it resumes nothing, and leaves the next capture its lock', async () => {
    const t = await setup({ s: bridgedRecording('in-progress') });
    const r = await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    const captureId = r.ok ? r.captureId : '';
    expect(t.paused).toHaveLength(1);
    // the call taken up elsewhere, which settled this capture as lost (its recordings resumed, its
    // lock released) and started the next one: its lock, the agent call's recording paused for it
    expect(await t.records.unlockIf(SID, captureId)).toBe(true);
    expect(await t.records.lock(SID, 'cap_next', 150)).toBe(true);
    await t.calls.update(SID, (s) => {
      s.capture = { id: 'cap_next', name: 'cvv', kind: 'security-code', status: 'capturing' };
      s.agentRecording!.status = 'paused';
    });
    // this one ends only now (its no-input timer)
    await waitUntil(() => !t.ex.isRunning(SID));
    expect(t.resumed).toEqual([]);
    expect(await t.store.get(t.keys.captureLock(SID))).toBe('cap_next');
    const s = await t.calls.get(SID);
    expect(s?.capture).toMatchObject({ id: 'cap_next', status: 'capturing' });
    expect(s?.agentRecording?.status).toBe('paused');
    expect(t.events.filter((e) => e.type === 'capture.failed')).toEqual([]);
  });

  it('leaves a capture alone that its own instance ended (the lock released) or that runs here', async () => {
    const t = await setup();
    await t.calls.update(SID, (s) => void (s.capture = { id: 'cap_gone', name: 'card', kind: 'card-number', status: 'capturing' }));
    await t.ex.settleLost(SID);
    expect(t.events).toEqual([]);
    expect(t.log).toEqual([]);
    const r = await t.ex.start(SID, { name: 'card', kind: 'card-number' });
    await t.ex.settleLost(SID);
    expect(t.ex.isRunning(SID)).toBe(true);
    expect(t.events.map((e) => e.type)).toEqual(['capture.started']);
    await t.ex.cancel(SID, r.ok ? r.captureId : '');
  });

  it('logs a resume that failed after the capture (its audit write refused) instead of dropping it, and still ends the capture', async () => {
    const out = logStream();
    // the recording controller's resume throws only when its audit entry cannot be written
    const t = await setup({ resumeFails: StoreErrors.unavailable(), log: out.log });
    expect((await t.ex.start(SID, { name: 'card', kind: 'card-number' })).ok).toBe(true);
    t.bridge.press('4111111111111111#');
    await t.settled('capture.completed');
    const warned = out.lines().filter((l) => l.msg === 'recording resume after the capture did not complete');
    expect(warned).toEqual([
      expect.objectContaining({
        level: 40,
        callSid: SID,
        err: expect.objectContaining({ code: 'TW_ERR_STORE_UNAVAILABLE', message: 'the store is unreachable' }),
      }),
    ]);
    expect(t.ex.isRunning(SID)).toBe(false);
    expect(await t.records.get(SID, (await t.calls.get(SID))!.capture!.id)).toMatchObject({ status: 'completed' });
    // the log says what failed, never what was keyed (the call sid, all ones, aside)
    expect(out.text().split(SID).join('')).not.toMatch(/4111|1111/);
  });
});
