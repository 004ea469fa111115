/**
 * PaymentSessions on its own (captures/payments.ts): what a failed capture start leaves when the
 * store fails again as the field's reservation is undone. The start's own failure is what the
 * agent is told; the reservation left behind is logged, never swallowed.
 */
import pino from 'pino';
import { PaymentSessions } from '../../../src/captures/payments';
import type { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import { Errors } from '../../../src/errors';

const CALL = 'CA' + '2'.repeat(32);
const PAYMENT = 'PK' + '3'.repeat(32);

test('a capture start that fails, then a store that fails undoing the reservation: the start failure is thrown and the reservation left is logged with its error', async () => {
  const session = {
    callSid: CALL,
    payment: { id: PAYMENT, status: 'open', blanket: false, fields: [{ name: 'card', kind: 'card-number' }], createdAt: 0 },
  } as unknown as CallSession;
  let storeDown = false;
  const calls = {
    update: async (_callSid: string, change: (s: CallSession) => unknown) => {
      if (storeDown) throw Errors.storeUnavailable({ cause: new Error('connection refused') });
      change(session);
      return session;
    },
  } as unknown as CallRepository;
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const started = new Error('the bridge is on no instance');
  const payments = new PaymentSessions({
    calls,
    captures: {
      start: async () => {
        storeDown = true;
        throw started;
      },
      cancel: async () => ({ ok: true }),
      get: async () => null,
    } as never,
    vault: { erase: async () => undefined },
    audit: { append: async () => undefined },
    publish: async () => undefined,
    onCompleted: () => undefined,
    log,
  });

  await expect(payments.update(session, PAYMENT, { capture: 'card' })).rejects.toBe(started);
  // reserved by the first write, and the second could not undo it
  expect(session.payment!.fields[0]).toMatchObject({ starting: true });
  const warned = lines.find((l) => l.msg === 'payment field left reserved after a failed capture start');
  expect(warned).toMatchObject({ callSid: CALL, paymentId: PAYMENT, field: 'card', err: expect.objectContaining({ code: 'TW_ERR_STORE_UNAVAILABLE' }) });
});
