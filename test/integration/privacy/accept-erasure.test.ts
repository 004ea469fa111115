/**
 * An agent's accept racing their caller's erasure, with a real Redis: the accept read the call as
 * offered, and takes the offer (keys.offer: the call's SID in its name, the agent's `sub` in its
 * value) while the erasure runs or after it. Whichever way they interleave, nothing of the call is
 * left in the store once both have ended: not the offer an accept took, nor anything else.
 */
import { AuditTrail } from '../../../src/audit';
import { acceptOffer, type OfferDeps } from '../../../src/agents/offers';
import type { Principal } from '../../../src/auth/tokens';
import type { CallEvent, InstanceCommand } from '../../../src/bus';
import { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import { CALLER_VAULT_FIELD, type PrivacyService, subjectHash } from '../../../src/privacy';
import { TEST_AUDIT_KEY } from '../../support/audit';
import { captureLog, eachRedisFixture, makeSession, privacyService, removingAfter } from '../../support/fixtures';
import { scanRedis } from '../../support/redis';

const SUBJECT_SECRET = 'subject-secret-for-accept-erasure';
const PHONE = '+15551234567';
const ALICE: Principal = { sub: 'alice@example.com', role: 'agent', endpoint: 'client:alice' } as Principal;

describe("an accept racing the caller's erasure", () => {
  const fx = eachRedisFixture('accept-erasure');
  let calls: CallRepository;
  let audit: AuditTrail;
  const commands: InstanceCommand[] = [];

  beforeEach(() => {
    calls = new CallRepository(fx.store, fx.keys, { vaultTtlSeconds: 900 });
    audit = new AuditTrail(fx.store, fx.keys, { key: TEST_AUDIT_KEY });
    commands.length = 0;
  });

  /** the erasure over `repo` (the repository, or one that runs something just before it removes the record) */
  function privacyOver(repo: CallRepository): PrivacyService {
    return privacyService({ calls: repo, vault: fx.vault, audit, store: fx.store, keys: fx.keys, subjectSecret: SUBJECT_SECRET });
  }

  const offerDeps = (): OfferDeps => ({
    store: fx.store,
    keys: fx.keys,
    calls,
    audit,
    log: captureLog().log,
    publish: async (_e: CallEvent) => undefined,
    sendCommand: async (_instance, c) => void commands.push(c),
    dialCaller: async () => undefined,
  });

  /** an offered call from PHONE (bridge mode, its caller held on instance i1), as an accept reads it */
  async function offeredCall(): Promise<CallSession> {
    const s = makeSession({ subject: subjectHash(SUBJECT_SECRET, PHONE), state: 'offered', instanceId: 'i1' });
    s.fromToken = await fx.vault.put(s.callSid, CALLER_VAULT_FIELD, PHONE);
    await calls.create(s);
    return (await calls.get(s.callSid))!;
  }

  /** every key left that names the call or holds the agent's sub, but its audit trail (kept by design) */
  async function leftOf(callSid: string): Promise<string[]> {
    const { keys, prefix } = fx;
    return (await scanRedis(prefix))
      .filter(({ key }) => key !== keys.audit(callSid) && !key.startsWith(keys.auditDay('')))
      .filter(({ key, content }) => `${key}\n${content}`.includes(callSid) || content.includes(ALICE.sub))
      .map(({ key }) => key.slice(prefix.length));
  }

  test('an accept that read the call before the erasure and takes the offer after it answers 404 and leaves no offer', async () => {
    const read = await offeredCall();
    expect((await privacyOver(calls).erase(PHONE)).calls).toBe(1);

    await expect(acceptOffer(offerDeps(), ALICE, read)).rejects.toMatchObject({ code: 'TW_ERR_CALL_NOT_FOUND' });
    expect(commands).toEqual([]);
    expect(await leftOf(read.callSid)).toEqual([]);
  });

  test('an accept that takes the offer while the erasure runs, before it ends the call, is the bridge it was; the erasure leaves no offer', async () => {
    const read = await offeredCall();
    const erasing = Object.create(calls) as CallRepository;
    let accepted: CallSession | undefined;
    erasing.update = async (callSid, fn, opts) => {
      // the erasure has removed the call's offer: the accept takes it now, and finds the call still offered
      accepted ??= await acceptOffer(offerDeps(), ALICE, read);
      return calls.update(callSid, fn, opts);
    };
    expect((await privacyOver(erasing).erase(PHONE)).calls).toBe(1);
    expect(accepted).toMatchObject({ state: 'bridging' });
    expect(commands).toMatchObject([{ type: 'dial-agent', callSid: read.callSid }]);
    expect(await calls.get(read.callSid)).toBeNull();
    expect(await leftOf(read.callSid)).toEqual([]);
  });

  test('an accept that takes the offer after the erasure ended the call, before it removed the record, answers 409 and leaves no offer', async () => {
    const read = await offeredCall();
    let refused: unknown;
    const erasing = removingAfter(calls, async () => {
      // the erasure has removed the offer and ended the call: the accept takes the offer, and finds the call ended
      refused = await acceptOffer(offerDeps(), ALICE, read).then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    expect((await privacyOver(erasing).erase(PHONE)).calls).toBe(1);
    expect(refused).toMatchObject({ code: 'TW_ERR_CONFLICT' });
    expect(commands).toEqual([]);
    expect(await calls.get(read.callSid)).toBeNull();
    expect(await leftOf(read.callSid)).toEqual([]);
  });
});
