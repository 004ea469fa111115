/**
 * What a webhook writes back when it ends: its own session, but not over what Twilio's callbacks
 * wrote while it ran (the recording's SID and end, the end of the call).
 */
import type { CallSession } from '../../../src/calls/session';
import { settleInto } from '../../../src/twilio/runner';

function session(over: Partial<CallSession> = {}): CallSession {
  return {
    callSid: 'CA' + '1'.repeat(32),
    accountSid: 'AC' + '0'.repeat(32),
    flowId: 'f',
    to: '+15005550006',
    fromMasked: '+*******4567',
    subject: 'x',
    state: 'ivr',
    step: 1,
    attempt: 1,
    recording: { status: 'in-progress' },
    fields: {},
    handoff: { mode: 'bridge' },
    createdAt: 1,
    updatedAt: 1,
    ...over,
  };
}

it("keeps the recording SID and end that a callback stored meanwhile, and this webhook's step, fields and pause", () => {
  const stored = session({ recording: { sid: 'RE' + '2'.repeat(32), status: 'in-progress' } });
  const mine = session({ step: 3, recording: { status: 'paused' }, fields: { menu: { kind: 'digits', masked: '*', valid: true, source: 'ivr', at: 2 } } });
  settleInto(stored, mine);
  expect(stored).toMatchObject({ step: 3, recording: { sid: 'RE' + '2'.repeat(32), status: 'paused' }, fields: { menu: { valid: true } } });

  const ended = session({ recording: { status: 'stopped' }, state: 'ended', endedAt: 5 });
  settleInto(ended, session({ step: 4, state: 'offered', recording: { status: 'paused' } }));
  expect(ended).toMatchObject({ step: 4, state: 'ended', endedAt: 5, recording: { status: 'stopped' } });
});

it('keeps every end of the recording Twilio reported meanwhile: completed (stopped), absent and failed', () => {
  for (const status of ['stopped', 'absent', 'failed'] as const) {
    const stored = session({ recording: { sid: 'RE' + '2'.repeat(32), status } });
    settleInto(stored, session({ step: 2, recording: { status: 'in-progress' } }));
    expect(stored.recording).toEqual({ sid: 'RE' + '2'.repeat(32), status });
  }
});
