/**
 * A caller who calls again while their erasure runs, with a real Redis: the new call began after
 * the erasure listed the caller's calls, so this erasure does not take it, but it must stay
 * findable by its subject: an access report names it, and the next erasure removes it. Were the
 * subject index dropped whole, the new call's record, values and sealed number would be held
 * for hours with no request able to reach them.
 */
import { AuditTrail } from '../../../src/audit';
import { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import { CALLER_VAULT_FIELD, subjectHash } from '../../../src/privacy';
import { TEST_AUDIT_KEY } from '../../support/audit';
import { eachRedisFixture, field, makeSession, privacyService, removingAfter } from '../../support/fixtures';
import { scanRedis } from '../../support/redis';

const SUBJECT_SECRET = 'subject-secret-for-a-call-during-erasure';
const PHONE = '+15551234567';

const fx = eachRedisFixture('erase-newcall');

test('a call the caller begins while their erasure runs is left to the next one, and found by it', async () => {
  const { store, keys, prefix, vault } = fx;
  const calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
  const audit = new AuditTrail(store, keys, { key: TEST_AUDIT_KEY });
  const subject = subjectHash(SUBJECT_SECRET, PHONE);
  /** a call from PHONE in the IVR with its number sealed and a date of birth keyed */
  async function callFromPhone(): Promise<CallSession> {
    const s = makeSession({ subject });
    s.fromToken = await vault.put(s.callSid, CALLER_VAULT_FIELD, PHONE);
    s.fields.dob = field('date', await vault.put(s.callSid, 'dob', '01011990'));
    await calls.create(s);
    return s;
  }
  const first = await callFromPhone();
  let second: CallSession | undefined;
  const erasing = removingAfter(calls, async () => {
    // the caller calls again as the erasure removes their first call's record
    second ??= await callFromPhone();
  });
  const over = (repo: CallRepository) => privacyService({ calls: repo, vault, audit, store, keys, subjectSecret: SUBJECT_SECRET });

  expect(await over(erasing).erase(PHONE)).toMatchObject({ calls: 1, values: 2 });
  expect(await calls.get(first.callSid)).toBeNull();

  const privacy = over(calls);
  expect((await privacy.access(PHONE)).calls.map((c) => c.callSid)).toEqual([second!.callSid]);
  expect(await privacy.erase(PHONE)).toMatchObject({ calls: 1, values: 2 });
  expect(await calls.get(second!.callSid)).toBeNull();
  expect(await vault.heldFor(second!.callSid)).toBe(0);
  // nothing names the subject any more
  expect((await scanRedis(prefix)).filter(({ key }) => key.includes(subject))).toEqual([]);
});
