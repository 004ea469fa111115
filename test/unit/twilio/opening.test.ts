/**
 * A call's opening (FlowRunner.opening): the engine's first step, worked out once per loaded
 * flow and shared by every call to it. Each call must still get its own session, exactly as the
 * engine makes it for that call, and nothing one call does may reach the next.
 */
import path from 'node:path';
import { FlowRunner, type RunnerDeps } from '../../../src/twilio/runner';
import { loadFlows } from '../../../src/flows/load';
import { Vault, generateKeyRingText, parseKeyRing, type VaultBackend } from '../../../src/vault';
import type { Flow } from '../../../src/flows/schema';

const flows = loadFlows(path.join(__dirname, '../../../config/flows'));
// opening() seals the caller's number but writes nothing: a backend that is never called
const backend = new Proxy({}, { get: () => () => Promise.reject(new Error('opening wrote to the vault')) }) as VaultBackend;
const vault = new Vault({ keys: parseKeyRing(generateKeyRingText('k1')), ttlSeconds: 900, backend });
const runner = new FlowRunner({
  flows,
  vault,
  publicUrl: 'https://ivr.example.com',
  subjectHash: (n: string) => `subject-of-${n.slice(-4)}`,
} as unknown as RunnerDeps);

/** a runner whose subject index key shows the whole canonical identity it was given */
const hashing = new FlowRunner({
  flows,
  vault,
  publicUrl: 'https://ivr.example.com',
  subjectHash: (n: string) => `subject-of-${n}`,
} as unknown as RunnerDeps);

const call = (n: number) => ({
  callSid: 'CA' + String(n).padStart(32, '0'),
  accountSid: 'AC' + 'b'.repeat(32),
  from: `+1555000${String(n).padStart(4, '0')}`,
  to: '+15005550006',
});
const allFlows: Flow[] = flows.all();

describe("a flow's opening, shared by its calls", () => {
  test('there are flows that open plainly (else this proves nothing)', () => {
    expect(allFlows.filter((f) => runner.opening(f, call(1)).twiml !== undefined).length).toBeGreaterThan(0);
  });

  test.each(allFlows.map((f) => [f.id, f] as const))('%s: the shared opening is what the engine makes for this very call', (_id, flow) => {
    const c = call(7);
    const shared = runner.opening(flow, c);
    // a drop-in's own recording state takes the per-call path: the same engine, nothing kept
    const own = runner.opening(flow, c, { recording: { status: 'none' } });
    expect(shared.twiml).toBe(own.twiml);
    const strip = (s: typeof shared.session) => ({ ...s, fromToken: undefined, createdAt: undefined, updatedAt: undefined });
    expect(strip(shared.session)).toEqual(strip(own.session));
    expect(shared.session).toMatchObject({ callSid: c.callSid, fromMasked: expect.stringMatching(/0007$/), subject: 'subject-of-0007' });
    expect(JSON.stringify(shared.session)).not.toContain(c.from);
  });

  test("one call's session changed in place does not reach the next call's", () => {
    const flow = allFlows.find((f) => runner.opening(f, call(1)).twiml !== undefined)!;
    const first = runner.opening(flow, call(1)).session;
    const pristine = JSON.stringify({ ...runner.opening(flow, call(2)).session, createdAt: 0, updatedAt: 0, fromToken: '' });
    first.step = 99;
    first.attempt = 3;
    first.state = 'ended';
    first.recording.status = 'paused';
    first.fields.card = { status: 'valid', masked: '************1111' } as never;
    first.handoff.agentSub = 'alice';
    const next = runner.opening(flow, call(2)).session;
    expect(JSON.stringify({ ...next, createdAt: 0, updatedAt: 0, fromToken: '' })).toBe(pristine);
  });

  test('each call has its own sealed number under its own token', () => {
    const flow = allFlows[0];
    const a = runner.opening(flow, call(1));
    const b = runner.opening(flow, call(2));
    expect(a.session.fromToken).not.toBe(b.session.fromToken);
    expect(a.also[0]).toMatchObject({ op: 'set' });
    expect(JSON.stringify(a.also)).not.toContain(call(1).from);
  });

  test.each(['+266696687', '+7378742833', '+2562533', '+8656696', '+86282452253', 'anonymous', 'Anonymous', ''])(
    'a withheld caller ID (%p) files the call under no subject and seals no number',
    (from) => {
      for (const flow of allFlows) {
        const { session, also } = runner.opening(flow, { ...call(3), from });
        expect(session.subject).toBeUndefined();
        expect(session.fromToken).toBeUndefined();
        // an agent is told the number was withheld, not a placeholder's last digits
        expect(session.fromMasked).toBe('withheld');
        expect(also).toEqual([]);
      }
      // the caller's own number still is
      expect(runner.opening(allFlows[0], call(3)).session).toMatchObject({ subject: 'subject-of-0003', fromToken: expect.stringMatching(/^vt_/) });
    },
  );

  test.each([
    // a SIP URI whose user part is an E.164 number: that number's caller, shown as the number
    ['sip:+15557650001@trunk.example.com;user=phone', 'subject-of-+15557650001', '+*******0001'],
    ['sip:zoe.q@Pbx.Example.com:5061;transport=tls', 'subject-of-sip:zoe.q@pbx.example.com', 'sip:****@pbx.example.com'],
    ['client:Mallory', 'subject-of-client:Mallory', 'client:****'],
  ])('a call from %p is filed under its canonical subject and shown masked', (from, subject, fromMasked) => {
    for (const flow of allFlows) {
      const { session, also } = hashing.opening(flow, { ...call(4), from });
      expect(session).toMatchObject({ subject, fromMasked, fromToken: expect.stringMatching(/^vt_/) });
      // nothing else names the caller: the subject above is this test's stand-in for an HMAC
      expect(JSON.stringify({ session: { ...session, subject: undefined }, also })).not.toMatch(/zoe\.q|Mallory|5557650001/);
    }
  });

  test.each(['sip:anonymous@anonymous.invalid', 'client:Anonymous', 'sip:+266696687@trunk.example.com'])(
    'a SIP or Client caller who withheld who they are (%p) is filed under no subject',
    (from) => {
      const { session, also } = hashing.opening(allFlows[0], { ...call(5), from });
      expect(session).toMatchObject({ fromMasked: 'withheld' });
      expect(session.subject).toBeUndefined();
      expect(session.fromToken).toBeUndefined();
      expect(also).toEqual([]);
    },
  );
});
