/**
 * Erasure against work still in flight on the call, with a real Redis: a capture the caller is
 * keying when their erasure runs ends after it, and must put nothing of theirs back (no sealed
 * value, no vault index, no capture record).
 */
import { EventEmitter } from 'node:events';
import { AuditTrail } from '../../../src/audit';
import type { CallEvent } from '../../../src/bus';
import { CallRepository } from '../../../src/calls/repository';
import { CaptureExecutor, CaptureRecords, type KeyPress } from '../../../src/captures';
import { CALLER_VAULT_FIELD, subjectHash } from '../../../src/privacy';
import { REST_TIMEOUT_MS } from '../../../src/twilio/rest';
import { TEST_AUDIT_KEY } from '../../support/audit';
import { captureLog, eachRedisFixture, makeSession, privacyService, removingAfter } from '../../support/fixtures';
import { scanRedis } from '../../support/redis';

const SUBJECT_SECRET = 'subject-secret-for-in-flight-erasure';
const PHONE = '+15551234567';
const CARD = '4111111111111111';

class FakeBridge extends EventEmitter<{ key: [KeyPress] }> {
  setBlanket(): void {}
  press(keys: string): void {
    for (const digit of keys) this.emit('key', { digit, source: 'inband', atSample: 0 });
  }
}

describe('erasure with work in flight', () => {
  let executors: CaptureExecutor[];

  const fx = eachRedisFixture('erase-inflight', async () => {
    for (const e of executors) await e.close();
  });
  beforeEach(() => {
    executors = [];
  });

  /**
   * A bridged call from PHONE with a capture of a card running on it. `beforeRemoval`: run by
   * the erasure just before it removes the call's record.
   */
  async function captureRunning(beforeRemoval?: () => Promise<void>) {
    const { store, keys, prefix, vault } = fx;
    const { log } = captureLog();
    const calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
    const audit = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY });
    const erasing = removingAfter(calls, async () => beforeRemoval?.());
    const privacy = privacyService({ calls: erasing, vault, audit, store, keys, subjectSecret: SUBJECT_SECRET, log });
    const s = makeSession({ subject: subjectHash(SUBJECT_SECRET, PHONE), state: 'bridged', instanceId: 'i1', handoff: { mode: 'bridge', agentSub: 'alice' } });
    s.fromToken = await vault.put(s.callSid, CALLER_VAULT_FIELD, PHONE);
    await calls.create(s);
    const bridge = new FakeBridge();
    const events: CallEvent[] = [];
    const executor = new CaptureExecutor({
      calls,
      records: new CaptureRecords(store, keys),
      recording: {
        pauseAll: async () => ({ ok: true, twilioStatus: '200' }),
        holdEach: async (recordings) => ({ paused: [...recordings], failed: [] }),
        resumeAll: async () => ({ ok: true, twilioStatus: '200' }),
        refuseUnlisted: async () => ({ ok: false, twilioStatus: 'unlisted' }),
      },
      recordings: async () => [],
      vault,
      audit,
      events: { publish: async (e) => void events.push(e) },
      metrics: { inc: () => undefined },
      bridges: (sid) => (sid === s.callSid ? bridge : undefined),
      log,
      instanceId: 'i1',
      timings: { idleMs: 5_000, firstKeyMs: 5_000, maxMs: 10_000 },
      restTimeoutMs: REST_TIMEOUT_MS,
    });
    executors.push(executor);
    const ended = () =>
      new Promise<CallEvent>((resolve) => {
        const t = setInterval(() => {
          const e = events.find((x) => x.type === 'capture.completed' || x.type === 'capture.failed');
          if (e) {
            clearInterval(t);
            resolve(e);
          }
        }, 5);
      });
    expect(await executor.start(s.callSid, { name: 'card', kind: 'card-number' })).toMatchObject({ ok: true });
    bridge.press(CARD.slice(0, 8));
    // the progress is in the store (the scan at the end can fail)
    await new Promise((r) => setTimeout(r, 50));
    expect((await scanRedis(prefix)).some((k) => k.key.startsWith(keys.capture(s.callSid, '')))).toBe(true);
    return { s, calls, privacy, bridge, ended };
  }

  /** what is left in the store that is the call's: a sealed value, its vault index, a capture record... */
  async function leftOf(callSid: string): Promise<string[]> {
    const { keys, prefix } = fx;
    return (
      (await scanRedis(prefix))
        // the audit trail and its day index (no personal data) are kept by design
        .filter(({ key }) => key !== keys.audit(callSid) && !key.startsWith(keys.auditDay('')))
        .filter(({ key, content }) => key.startsWith(keys.vault('')) || `${key}\n${content}`.includes(callSid))
        .map(({ key }) =>
          key
            .slice(prefix.length)
            .replace(callSid, '<call>')
            .replace(/vt_[A-Za-z0-9_-]{32}/, '<token>'),
        )
    );
  }

  test('a capture that ends after its call was erased leaves no value, vault index or capture record', async () => {
    const { s, calls, privacy, bridge, ended } = await captureRunning();
    expect((await privacy.erase(PHONE)).calls).toBe(1);

    // the caller keeps keying, and finishes the number after the erasure
    bridge.press(CARD.slice(8) + '#');
    // nothing of the value reaches the agent either: the capture ends without one
    expect(await ended()).toMatchObject({ type: 'capture.failed', reason: 'call-not-found' });

    expect(await calls.get(s.callSid)).toBeNull();
    expect(await leftOf(s.callSid)).toEqual([]);
  });

  test('a capture that ends while the erasure runs, before it removes the record, leaves nothing either', async () => {
    let finish: () => Promise<CallEvent> = async () => {
      throw new Error('not set');
    };
    // the erasure has swept the call's values and capture records; the capture ends now, finds the record and writes to it
    const { s, privacy, bridge, ended } = await captureRunning(async () => {
      bridge.press(CARD.slice(8) + '#');
      await finish();
    });
    finish = ended;
    expect((await privacy.erase(PHONE)).calls).toBe(1);
    expect(await ended()).toMatchObject({ type: 'capture.completed' });
    expect(await leftOf(s.callSid)).toEqual([]);
  });
});
