/**
 * A gather webhook in flight when its caller is erased, through the real app and the project's
 * Twilio emulator: the erasure lands between the gather's replay claim (which read the call) and
 * its one atomic write. The write must find the record gone and put nothing back: no sealed
 * value, no vault index, no remembered answer.
 */
import { startHarness, SUPPORT_NUMBER, WEBHOOK_CALLER, webhookParams, type Harness } from '../../support/harness';

const CALLER = WEBHOOK_CALLER;
/** a valid date of birth for the support flow's one question */
const DOB = '01011990';

const params = (callSid: string, extra: Record<string, string> = {}) => webhookParams(callSid, SUPPORT_NUMBER, extra);

describe('a gather in flight when its caller is erased', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  test('its write after the erasure seals no value and remembers no answer', async () => {
    const callSid = 'CA' + 'e'.repeat(32);
    const { store, keys, calls, privacy, replay } = h.app.services;
    const first = await h.emulator.signedPost(h.voiceUrl, params(callSid, { CallStatus: 'ringing' }));
    expect(first.body).toContain('/twilio/gather/1/1');

    // the erasure runs just before the gather's atomic write, after its claim read the call
    const write = store.compareAndSetAll.bind(store);
    let erased = false;
    store.compareAndSetAll = async (records, ops) => {
      if (!erased && records.some((r) => r.key === keys.call(callSid))) {
        erased = true;
        expect((await privacy.erase(CALLER)).calls).toBe(1);
      }
      return write(records, ops);
    };
    let answer: { status: number; body: string };
    try {
      answer = await h.emulator.signedPost(`${h.publicUrl}/twilio/gather/1/1`, params(callSid, { Digits: DOB }));
    } finally {
      store.compareAndSetAll = write;
    }
    expect(erased).toBe(true);
    // the flow's safe answer, as to a gather for an unknown call (not the step's own TwiML, whose writes never landed)
    expect(answer.status).toBe(200);
    // the safe answer's dial ends at the store-free fallback route; the step's own at the plain one
    expect(answer.body).toContain('/twilio/dial-status?fallback=1"');
    expect(answer.body).not.toContain('/twilio/dial-status"');

    expect(await calls.get(callSid)).toBeNull();
    const left = (await h.scan())
      // the audit trail and its day index (no personal data) are kept by design
      .filter(({ key }) => key !== keys.audit(callSid) && !key.startsWith(keys.auditDay('')))
      .filter(({ key, content }) => key.startsWith(keys.vault('')) || key === replay.recordKey(callSid) || `${key}\n${content}`.includes(callSid))
      .map(({ key }) =>
        key
          .slice(keys.prefix.length)
          .replace(callSid, '<call>')
          .replace(/vt_[A-Za-z0-9_-]{32}/, '<token>')
          .replace(replay.recordKey(callSid).slice(keys.prefix.length), 'replay:<call>'),
      );
    expect(left).toEqual([]);
  });

  test('a call still in progress when its caller is erased leaves the active calls once: its status callback after does not count it again', async () => {
    const callSid = 'CA' + 'f'.repeat(32);
    const active = async () => Number(/^tonewall_calls_active (\S+)$/m.exec(await (await fetch(h.metricsUrl)).text())?.[1] ?? NaN);
    const before = await active();
    await h.emulator.signedPost(h.voiceUrl, params(callSid, { CallStatus: 'ringing' }));
    expect(await active()).toBe(before + 1);
    expect((await h.app.services.privacy.erase(CALLER)).calls).toBe(1);
    expect(await active()).toBe(before);
    // Twilio's status callback for the call, which goes on: its record is gone, nothing to end
    const status = await h.emulator.signedPost(h.statusUrl, params(callSid, { CallStatus: 'completed' }));
    expect(status.status).toBe(204);
    expect(await active()).toBe(before);
  });
});
