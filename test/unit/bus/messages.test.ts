/** The wire schemas: every server event of CONTRACT §5 parses, and what could carry a value or a full number does not. */
import { agentEvent, callEvent, instanceCommand, type AgentEvent } from '../../../src/bus';
import { WITHHELD_CALLER } from '../../../src/calls/session';
import { FIELD_KINDS } from '../../../src/fields';

const SID = 'CA' + '2'.repeat(32);
const capture = { callSid: SID, captureId: 'cap_1', name: 'card', kind: 'card-number', entered: 16, masked: '************1111' } as const;

const events: AgentEvent[] = [
  {
    type: 'handoff.offered',
    callSid: SID,
    from: '+*******4567',
    fields: { card: { kind: 'card-number', masked: '************1111', last4: '1111', brand: 'visa', valid: true } },
  },
  { type: 'handoff.taken', callSid: SID },
  { type: 'call.bridged', callSid: SID, agent: 'agent:0123456789abcdef' },
  { type: 'capture.started', callSid: SID, captureId: 'cap_1', name: 'card', kind: 'card-number', blanket: false },
  { type: 'capture.progress', callSid: SID, captureId: 'cap_1', entered: 3, masked: '***' },
  { type: 'capture.completed', ...capture, valid: true, brand: 'visa', last4: '1111' },
  { type: 'capture.failed', ...capture, masked: '****', reason: 'luhn', valid: false },
  { type: 'processor.result', callSid: SID, processor: 'gateway', ok: true, status: 200, result: { approved: true, reference: 'ch_1' }, attempts: 1 },
  {
    type: 'payment.updated',
    callSid: SID,
    payment: {
      paymentId: 'PK' + 'a'.repeat(32),
      callSid: SID,
      status: 'open',
      capturing: 'cvv',
      required: ['cvv'],
      fields: [
        { name: 'card', kind: 'card-number', status: 'valid', masked: '************1111', last4: '1111', brand: 'visa', captureId: 'cap_1' },
        { name: 'cvv', kind: 'security-code', status: 'capturing', masked: '**', captureId: 'cap_2' },
      ],
      createdAt: '2026-12-04T16:00:00.000Z',
    },
  },
  { type: 'call.ended', callSid: SID, status: 'completed' },
  { type: 'error', callSid: null, message: 'malformed message' },
];

describe('bus messages', () => {
  it('a payment field view holds masked forms only', () => {
    const e = events.find((x) => x.type === 'payment.updated') as Extract<AgentEvent, { type: 'payment.updated' }>;
    const leaked = { ...e, payment: { ...e.payment, fields: [{ ...e.payment.fields[0], masked: '4111111111111111' }] } };
    expect(callEvent.safeParse(leaked).success).toBe(false);
  });

  it.each(events.map((e) => [e.type, e] as const))('%s parses as itself', (_type, e) => {
    expect(agentEvent.parse(e)).toEqual(e);
  });

  it('every CONTRACT §5 server event type is in the agent union; error never travels on the bus', () => {
    const types = agentEvent.options.map((o) => o.shape.type.value).sort();
    expect(types).toEqual(events.map((e) => e.type).sort());
    expect(callEvent.safeParse(events.at(-1)).success).toBe(false);
  });

  it('refuses a value or a full caller number where a masked form belongs', () => {
    const value = '4111111111111111';
    const refused = [
      { type: 'capture.progress', callSid: SID, captureId: 'cap_1', entered: 16, masked: value },
      { type: 'capture.completed', ...capture, masked: value, valid: true },
      { type: 'capture.completed', ...capture, valid: true, last4: value },
      { type: 'handoff.offered', callSid: SID, from: '+15551234567', fields: {} },
      { type: 'handoff.offered', callSid: SID, from: '+*******4567', fields: { card: { kind: 'card-number', masked: value, valid: true } } },
      { type: 'capture.completed', ...capture, valid: false },
      { type: 'capture.started', callSid: SID, captureId: 'cap_1', name: 'card', kind: 'iban', blanket: false },
      { type: 'call.ended', status: 'completed' },
    ];
    for (const e of refused) expect(callEvent.safeParse(e).success).toBe(false);
  });

  it('takes a failed IVR field however many keys the caller pressed (one * each)', () => {
    const fields = { account: { kind: 'digits', masked: '*'.repeat(100), valid: false, reason: 'length' } };
    expect(callEvent.safeParse({ type: 'handoff.offered', callSid: SID, from: '*****mous', fields }).success).toBe(true);
  });

  it("takes a caller who withheld their number, as the call record names them ('withheld')", () => {
    expect(callEvent.safeParse({ type: 'handoff.offered', callSid: SID, from: WITHHELD_CALLER, fields: {} }).success).toBe(true);
    for (const from of ['withheld+', 'withheld15551234567', 'Withheld1234567']) {
      expect(callEvent.safeParse({ type: 'handoff.offered', callSid: SID, from, fields: {} }).success).toBe(false);
    }
  });

  it('knows the field kinds fields/ knows', () => {
    for (const kind of FIELD_KINDS)
      expect(callEvent.safeParse({ type: 'capture.started', callSid: SID, captureId: 'c', name: 'f', kind, blanket: true }).success).toBe(true);
  });

  it('instance commands: dial-agent needs an endpoint; unknown commands are refused', () => {
    expect(instanceCommand.safeParse({ type: 'dial-agent', callSid: SID, endpoint: 'client:alice', agentSub: 'alice' }).success).toBe(true);
    expect(instanceCommand.safeParse({ type: 'dial-agent', callSid: SID }).success).toBe(false);
    expect(instanceCommand.safeParse({ type: 'hangup', callSid: SID }).success).toBe(false);
  });
});
