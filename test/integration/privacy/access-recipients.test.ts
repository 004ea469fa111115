/**
 * A subject access report names the recipients of the caller's data (GDPR Art. 15(1)(c)): each
 * call's deliveries to processors, by processor, status and tries, read from the delivery records
 * (which hold no value and no number). A call whose record and values have expired while a
 * delivery record of it is still held is reported too: that disclosure is still on record, and
 * the erasure still tells the processor of it. Real Redis.
 */
import { AuditTrail } from '../../../src/audit';
import { CallRepository } from '../../../src/calls/repository';
import { subjectHash } from '../../../src/privacy';
import { parseProcessors, type DeliveryRecord } from '../../../src/processors';
import type { Keys, RedisStore } from '../../../src/store';
import type { Vault } from '../../../src/vault';
import { TEST_AUDIT_KEY } from '../../support/audit';
import { field, makeSession, privacyService, redisFixture } from '../../support/fixtures';

const SUBJECT_SECRET = 'subject-secret-for-recipients';
const PHONE = '+15551234567';

let store: RedisStore;
let keys: Keys;
let vault: Vault;

beforeEach(async () => {
  ({ store, keys, vault } = await redisFixture('access-recipients'));
});
afterEach(async () => store.close());

test("access names each call's processors, and a call only a delivery record is left of", async () => {
  const calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
  const audit = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY });
  const subject = subjectHash(SUBJECT_SECRET, PHONE);
  const delivery = async (callSid: string, processor: string, status: DeliveryRecord['status'], attempts: number) => {
    const now = Date.now();
    const rec: DeliveryRecord = { v: 1, callSid, processor, status, attempts, nextAt: now, createdAt: now, updatedAt: now };
    await store.set(keys.delivery(callSid, processor), JSON.stringify(rec), 900);
  };

  const live = makeSession({ subject, createdAt: Date.now() });
  live.fields.dob = field('date', await vault.put(live.callSid, 'dob', '01011990'));
  await calls.create(live);
  await delivery(live.callSid, 'gateway', 'delivered', 1);
  await delivery(live.callSid, 'crm', 'failed', 8);

  // a call whose record and values are gone; its delivery record and its subject index entry remain
  const gone = makeSession({ subject, createdAt: Date.now() - 60_000 });
  await calls.create(gone);
  await audit.append(gone.callSid, { type: 'call.started' });
  await delivery(gone.callSid, 'gateway', 'delivered', 2);
  await store.del(keys.call(gone.callSid));

  const privacy = privacyService({
    calls,
    vault,
    audit,
    store,
    keys,
    processors: parseProcessors(
      'p.yaml',
      `processors:
  - { name: gateway, url: "http://127.0.0.1:9/charge", secretEnv: GW, fields: [dob] }
  - { name: crm, url: "http://127.0.0.1:9/crm", secretEnv: CRM, fields: [dob] }
`,
      { GW: 'gw-secret-text-0123456789abcdefghij', CRM: 'crm-secret-text-0123456789abcdefgh' },
    ),
    subjectSecret: SUBJECT_SECRET,
  });
  const report = await privacy.access(PHONE);
  expect(Object.fromEntries(report.calls.map((c) => [c.callSid, c.deliveries]))).toEqual({
    [gone.callSid]: [{ processor: 'gateway', status: 'delivered', attempts: 2, at: expect.any(String) }],
    [live.callSid]: [
      { processor: 'crm', status: 'failed', attempts: 8, at: expect.any(String) },
      { processor: 'gateway', status: 'delivered', attempts: 1, at: expect.any(String) },
    ],
  });
  expect(report.calls.find((c) => c.callSid === gone.callSid)).toMatchObject({ state: 'expired', fields: {}, values: 0 });
  expect(JSON.stringify(report)).not.toContain(PHONE.slice(1));
  // and the erasure counts both among the caller's calls
  expect(await privacy.erase(PHONE)).toMatchObject({ calls: 2 });
  expect((await privacy.access(PHONE)).calls).toEqual([]);
});
