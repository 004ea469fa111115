/**
 * A capture that completes while its caller's erasure runs, before the erasure removes the call's
 * record, seals its values after the erasure's first sweep of them and writes them to the record;
 * the delivery it queues then finds the record and sends the card to a twilio-generic-pay gateway.
 * The erasure must still tell that gateway the charge's transaction id, and leave no delivery
 * record behind it. Real Redis, a real ProcessorDelivery, a real HTTP gateway.
 */
import { AuditTrail } from '../../../src/audit';
import { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import { CALLER_VAULT_FIELD, subjectHash } from '../../../src/privacy';
import { ProcessorDelivery } from '../../../src/processors';
import { transactionId } from '../../../src/processors/generic-pay';
import { TEST_AUDIT_KEY } from '../../support/audit';
import { captureLog, eachRedisFixture, field, makeSession, privacyService, removingAfter } from '../../support/fixtures';
import { eachChargerGateway, waitFor } from '../../support/gateway';
import { scanRedis } from '../../support/redis';

const SUBJECT_SECRET = 'subject-secret-for-a-delivery-race';
const PHONE = '+15557778888';
const FAST = { baseMs: 10, maxMs: 20, maxAttempts: 5 };

let delivery: ProcessorDelivery | undefined;

const fx = eachRedisFixture('erase-delivery-race', async () => {
  await delivery?.stop();
});
const charger = eachChargerGateway();

test('a card charged by a capture completing during the erasure: the gateway is told its transaction id, and no delivery record is left', async () => {
  const { store, keys, prefix, vault } = fx;
  const { gw, processors } = charger;
  const { log } = captureLog();
  const calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
  const audit = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY });
  delivery = new ProcessorDelivery({ store, keys, vault, calls, processors, log, onResult: () => undefined, backoff: FAST });
  await delivery.start();
  const s = makeSession({ subject: subjectHash(SUBJECT_SECRET, PHONE), state: 'bridged', instanceId: 'i1' });
  s.fromToken = await vault.put(s.callSid, CALLER_VAULT_FIELD, PHONE);
  await calls.create(s);

  const erasing = removingAfter(calls, async () => {
    // the capture completes now: its values sealed, written to the record it still finds, and delivered
    const card = await vault.put(s.callSid, 'card', '4111111111111111');
    const expiry = await vault.put(s.callSid, 'expiry', '1230');
    const cvv = await vault.put(s.callSid, 'cvv', '737');
    const updated = (await calls.update(s.callSid, (r: CallSession) => {
      r.fields = { card: field('card-number', card), expiry: field('expiry', expiry), cvv: field('security-code', cvv) };
    }))!;
    await delivery!.onCallUpdated(updated);
    await waitFor(() => gw.received.some((r) => r.path === '/pay'));
  });
  const privacy = privacyService({ calls: erasing, vault, audit, store, keys, processors, subjectSecret: SUBJECT_SECRET, log, erasureBackoff: FAST });

  const receipt = await privacy.erase(PHONE);
  expect(gw.received.filter((r) => r.path === '/pay')).toHaveLength(1);
  expect(receipt.processors).toEqual([{ name: 'charger', status: 'forwarded', httpStatus: 200 }]);
  const erased = gw.received.filter((r) => r.path === '/erase');
  expect(erased).toHaveLength(1);
  expect(JSON.parse(erased[0].body)).toMatchObject({ transactionIds: [transactionId(s.callSid, 'charger')] });
  // told after the charge's request ended
  expect(erased[0].at).toBeGreaterThanOrEqual(gw.received.find((r) => r.path === '/pay')!.at);
  // nothing names the call but its audit trail
  const left = (await scanRedis(prefix))
    .filter(({ key }) => key !== keys.audit(s.callSid) && !key.startsWith(keys.auditDay('')))
    .filter(({ key, content }) => `${key}\n${content}`.includes(s.callSid))
    .map(({ key }) => key.slice(prefix.length));
  expect(left).toEqual([]);
});
