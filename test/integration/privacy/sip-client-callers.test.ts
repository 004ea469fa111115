/**
 * Callers whose `From` is not an E.164 number, through the real app, real HTTP and the project's
 * Twilio emulator: a Twilio Client (`client:…`), a SIP endpoint (`sip:user@host`), a SIP trunk
 * that sends an E.164 number as its user part (`sip:+1555…@trunk`), a `tel:` URI of a number,
 * and a caller ID that is none of these (a number without its `+`). Each call keys a date of
 * birth (sealed in the vault and delivered to a processor) and is offered to agents in bridge
 * mode; then an admin asks for the caller by the subject routes and erases them. Redis is read
 * afterwards for anything left of them, and the real log stream for their identity.
 */
import { TokenAuth } from '../../../src/auth/tokens';
import type { CallEvent } from '../../../src/bus';
import { verifySignature } from '../../../src/processors';
import { gatewayProcessorsFile, startGateway, type Gateway } from '../../support/gateway';
import { startHarness, waitFor, type Harness } from '../../support/harness';
import { dobBridgeFlow } from '../../support/card-flows';

const NUMBER = '+15005550041';
/** a date of birth the flow's one question takes */
const DOB = '01011990';
const SECRET = 'gateway-secret-for-subjects-0123456789';

interface AccessReport {
  subject: string;
  calls: { callSid: string; state: string; fields: Record<string, { masked: string; valid: boolean }> }[];
}

describe('callers whose From is a SIP URI, a Twilio Client identity, a tel URI or another caller ID', () => {
  let h: Harness;
  let gw: Gateway;
  let admin: string;
  let supervisor: string;
  const events: CallEvent[] = [];

  beforeAll(async () => {
    gw = await startGateway();
    const file = gatewayProcessorsFile(gw, ['dob']);
    h = await startHarness({
      env: { PROCESSORS_FILE: file, GATEWAY_SECRET: SECRET },
      // one question, then offered to the connected agents (bridge mode, no handoff.to)
      flows: {
        subjects: dobBridgeFlow('subjects', NUMBER),
      },
    });
    await h.app.services.events.subscribe((e) => events.push(e));
    const auth = new TokenAuth(h.config.agentJwtSecret);
    admin = auth.sign({ sub: 'dpo', endpoint: 'client:dpo', role: 'admin' });
    supervisor = auth.sign({ sub: 'sue', endpoint: 'client:sue', role: 'supervisor' });
  });
  afterAll(async () => {
    await h.close();
    await gw.close();
  });

  /** a call from `from` that keys its date of birth, is offered, delivered to the processor and hung up; its SID and the vault token of its caller */
  async function call(from: string): Promise<{ sid: string; fromToken: string }> {
    const c = await h.emulator.placeCall({ from, to: NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl, onGather: () => `${DOB}#` });
    await waitFor(() => c.transcript.some((t) => t.verb === 'Connect/Stream'), 'the bridge handoff', 10000);
    await waitFor(() => events.some((e) => e.type === 'handoff.offered' && e.callSid === c.sid), 'handoff.offered');
    await waitFor(() => deliveries().some((d) => d.callSid === c.sid), 'the delivery to the processor', 10000);
    await c.hangup();
    const s = await waitFor(async () => {
      const r = await h.app.services.calls.get(c.sid);
      return r?.state === 'ended' ? r : null;
    }, 'the end of the call');
    expect(s.fromToken).toMatch(/^vt_/);
    return { sid: c.sid, fromToken: s.fromToken! };
  }

  /** what the processor was sent, per call */
  const deliveries = () =>
    gw.received.filter((r) => r.path === '/charge').map((r) => JSON.parse(r.body) as { callSid: string; subject: string | null; fields: { dob: string } });

  const subjectRequest = (method: 'GET' | 'DELETE', subject: string) =>
    fetch(`${h.url}/v1/subjects/${encodeURIComponent(subject)}`, { method, headers: { authorization: `Bearer ${admin}` } });

  const agentView = async (sid: string) => fetch(`${h.url}/v1/calls/${sid}`, { headers: { authorization: `Bearer ${supervisor}` } });

  /** what agents were shown of each call's caller: its record, the API's view and the offer */
  async function shown(sid: string): Promise<string[]> {
    const offered = events.find((e): e is Extract<CallEvent, { type: 'handoff.offered' }> => e.type === 'handoff.offered' && e.callSid === sid);
    const view = (await (await agentView(sid)).json()) as { from: string };
    return [(await h.app.services.calls.get(sid))!.fromMasked, view.from, offered!.from];
  }

  /** every key left that names one of the calls, the subject, a sealed caller or the caller's identity, but the audit trails (kept by design) */
  async function leftOf(sids: string[], tokens: string[], subjectHash: string, identity: string[]): Promise<string[]> {
    const { keys } = h.app.services;
    return (await h.scan())
      .filter(({ key }) => !sids.some((sid) => key === keys.audit(sid)) && !key.startsWith(keys.auditDay('')))
      .filter(({ key, content }) => [...sids, ...tokens, subjectHash, ...identity].some((f) => `${key}\n${content}`.includes(f)))
      .map(({ key }) => key.slice(keys.prefix.length));
  }

  /** the erasure of `subject` (as the admin names it) removes `mine` entirely, forwards it as `forwarded`, and leaves `others` as they were */
  async function eraseAndCheck(subject: string, forwarded: string, mine: { sid: string; fromToken: string }[], others: string[], identity: string[]) {
    const { calls, keys, store } = h.app.services;
    const hash = h.app.services.subjectHash(forwarded);
    expect((await store.smembers(keys.subject(hash))).sort()).toEqual(mine.map((c) => c.sid).sort());
    const held = async () =>
      leftOf(
        mine.map((c) => c.sid),
        mine.map((c) => c.fromToken),
        hash,
        identity,
      );
    // what the erasure must take, there before it (so the scan after can find what is left)
    const strip = (key: string) => key.slice(keys.prefix.length);
    expect(await held()).toEqual(
      expect.arrayContaining([
        strip(keys.subject(hash)),
        ...mine.flatMap((c) => [strip(keys.call(c.sid)), strip(keys.vault(c.fromToken)), strip(keys.vaultIndex(c.sid))]),
      ]),
    );
    // while held, the identity is in no key or value in plain text, audit trails included
    const scanned = await h.scan();
    expect(scanned.filter(({ key, content }) => identity.some((t) => `${key}\n${content}`.includes(t))).map(({ key }) => key)).toEqual([]);
    const erasesBefore = gw.received.filter((r) => r.path === '/erase').length;

    const res = await subjectRequest('DELETE', subject);
    expect(res.status).toBe(200);
    // the call's date of birth and the caller's sealed identity, per call
    expect(await res.json()).toMatchObject({ calls: mine.length, values: 2 * mine.length, processors: [{ name: 'gateway', status: 'forwarded' }] });
    const erases = gw.received.filter((r) => r.path === '/erase').slice(erasesBefore);
    expect(erases).toHaveLength(1);
    expect(verifySignature(String(erases[0].headers['x-tonewall-signature']), erases[0].body, SECRET, 300)).toBe(true);
    // what each delivery named the caller by: the processor can match the two
    expect(JSON.parse(erases[0].body)).toMatchObject({ subject: forwarded });

    for (const { sid } of mine) {
      expect(await calls.get(sid)).toBeNull();
      expect((await agentView(sid)).status).toBe(404);
    }
    expect(((await (await subjectRequest('GET', subject)).json()) as AccessReport).calls).toEqual([]);
    expect(await held()).toEqual([]);
    for (const sid of others) expect(await calls.get(sid)).not.toBeNull();
    // nor did the log ever hold who they are
    for (const text of identity) expect(h.logs.text).not.toContain(text);
  }

  test('a Twilio Client caller is a subject of their own: shown as client:****, found and erased by client:name', async () => {
    const mine = [await call('client:Mallory7'), await call('client:Mallory7')];
    const other = await call('client:trent');

    for (const { sid } of mine) expect(await shown(sid)).toEqual(['client:****', 'client:****', 'client:****']);
    for (const { sid } of mine) expect(deliveries().find((d) => d.callSid === sid)).toMatchObject({ subject: 'client:Mallory7', fields: { dob: DOB } });

    // the scheme in any case: the same caller; the name is theirs as Twilio gave it
    for (const asked of ['client:Mallory7', 'CLIENT:Mallory7']) {
      const res = await subjectRequest('GET', asked);
      expect(res.status).toBe(200);
      const report = (await res.json()) as AccessReport;
      expect(report.subject).toBe('client:****');
      expect(report.calls.map((c) => c.callSid).sort()).toEqual(mine.map((c) => c.sid).sort());
      for (const c of report.calls) expect(c).toMatchObject({ state: 'ended', fields: { dob: { masked: '********', valid: true } } });
      expect(JSON.stringify(report)).not.toContain(DOB);
    }

    await eraseAndCheck('client:Mallory7', 'client:Mallory7', mine, [other.sid], ['Mallory7']);
  }, 60000);

  test('a SIP caller is their address of record: any port, transport or case of host and scheme is the same caller, another domain is not', async () => {
    const mine = [await call('sip:zoe.q@Pbx.Example.com:5061;transport=tls'), await call('sips:zoe.q@pbx.example.com')];
    const other = await call('sip:zoe.q@other.example.net');

    for (const { sid } of mine) expect(await shown(sid)).toEqual(['sip:****@pbx.example.com', 'sip:****@pbx.example.com', 'sip:****@pbx.example.com']);
    expect(await shown(other.sid)).toEqual(['sip:****@other.example.net', 'sip:****@other.example.net', 'sip:****@other.example.net']);
    for (const { sid } of mine) expect(deliveries().find((d) => d.callSid === sid)).toMatchObject({ subject: 'sip:zoe.q@pbx.example.com' });

    for (const asked of ['sip:zoe.q@pbx.example.com', 'SIP:zoe.q@PBX.example.com:5060;transport=udp']) {
      const report = (await (await subjectRequest('GET', asked)).json()) as AccessReport;
      expect(report.subject).toBe('sip:****@pbx.example.com');
      expect(report.calls.map((c) => c.callSid).sort()).toEqual(mine.map((c) => c.sid).sort());
    }

    await eraseAndCheck('sips:zoe.q@pbx.example.com:5061', 'sip:zoe.q@pbx.example.com', mine, [other.sid], ['zoe.q']);
  }, 60000);

  test("a SIP URI whose user part is an E.164 number is that number's caller: found and erased by %2B…, with the calls from the number itself", async () => {
    const NUMBER_OF_CALLER = '+15551230001';
    const mine = [
      await call(NUMBER_OF_CALLER),
      await call(`sip:${NUMBER_OF_CALLER}@trunk.example.com;user=phone`),
      await call('sip:+1-555-123-0001@10.0.0.7:5060;user=phone'),
    ];
    const other = await call('sip:+15551230002@trunk.example.com;user=phone');

    for (const { sid } of mine) expect(await shown(sid)).toEqual(['+*******0001', '+*******0001', '+*******0001']);
    for (const { sid } of mine) expect(deliveries().find((d) => d.callSid === sid)).toMatchObject({ subject: NUMBER_OF_CALLER });

    // by the number, as the contract has it, or by any SIP URI that names it
    for (const asked of [NUMBER_OF_CALLER, 'sip:+15551230001@another-trunk.example.org']) {
      const res = await subjectRequest('GET', asked);
      expect(res.status).toBe(200);
      const report = (await res.json()) as AccessReport;
      expect(report.subject).toBe('+*******0001');
      expect(report.calls.map((c) => c.callSid).sort()).toEqual(mine.map((c) => c.sid).sort());
    }

    await eraseAndCheck(NUMBER_OF_CALLER, NUMBER_OF_CALLER, mine, [other.sid], ['5551230001', 'trunk.example.com;user=phone']);
  }, 60000);

  test("a tel URI of a global number is that number's caller: found and erased by %2B… or by any tel URI of it", async () => {
    const NUMBER_OF_CALLER = '+15551230003';
    const mine = [await call('tel:+1-555-123-0003'), await call(NUMBER_OF_CALLER), await call('TEL:+1(555)123.0003;ext=7')];
    const other = await call('tel:+1-555-123-0009');

    for (const { sid } of mine) expect(await shown(sid)).toEqual(['+*******0003', '+*******0003', '+*******0003']);
    for (const { sid } of mine) expect(deliveries().find((d) => d.callSid === sid)).toMatchObject({ subject: NUMBER_OF_CALLER });

    for (const asked of [NUMBER_OF_CALLER, 'tel:+15551230003', 'tel:+1-555-123-0003;phone-context=x']) {
      const res = await subjectRequest('GET', asked);
      expect(res.status).toBe(200);
      const report = (await res.json()) as AccessReport;
      expect(report.subject).toBe('+*******0003');
      expect(report.calls.map((c) => c.callSid).sort()).toEqual(mine.map((c) => c.sid).sort());
    }

    await eraseAndCheck('tel:+1-555-123-0003', NUMBER_OF_CALLER, mine, [other.sid], ['5551230003', '555-123-0003']);
  }, 60000);

  test('a number asked for as people write it (spaces, brackets, dashes) is the E.164 caller: found and erased by it', async () => {
    const NUMBER_OF_CALLER = '+15551230006';
    const mine = [await call(NUMBER_OF_CALLER), await call(NUMBER_OF_CALLER)];
    const other = await call('+15551230007');

    for (const asked of ['+1 555 123 0006', '+1 (555) 123-0006', '+1.555.123.0006']) {
      const res = await subjectRequest('GET', asked);
      expect(res.status).toBe(200);
      const report = (await res.json()) as AccessReport;
      expect(report.subject).toBe('+*******0006');
      expect(report.calls.map((c) => c.callSid).sort()).toEqual(mine.map((c) => c.sid).sort());
    }

    await eraseAndCheck('+1 555-123-0006', NUMBER_OF_CALLER, mine, [other.sid], ['5551230006', '555 123 0006']);
  }, 60000);

  test('any other caller ID (a number without its +) is a subject as Twilio sent it: found and erased by that text, and by no other', async () => {
    const AS_SENT = '15551230004';
    const mine = [await call(AS_SENT), await call(AS_SENT)];
    // the number with its '+' is another caller ID: not the same subject
    const other = await call('+15551230004');

    for (const { sid } of mine) expect(await shown(sid)).toEqual(['*******0004', '*******0004', '*******0004']);
    for (const { sid } of mine) expect(deliveries().find((d) => d.callSid === sid)).toMatchObject({ subject: AS_SENT, fields: { dob: DOB } });

    const res = await subjectRequest('GET', AS_SENT);
    expect(res.status).toBe(200);
    const report = (await res.json()) as AccessReport;
    expect(report.subject).toBe('*******0004');
    expect(report.calls.map((c) => c.callSid).sort()).toEqual(mine.map((c) => c.sid).sort());
    const byPlus = (await (await subjectRequest('GET', '+15551230004')).json()) as AccessReport;
    expect(byPlus.calls.map((c) => c.callSid)).toEqual([other.sid]);

    await eraseAndCheck(AS_SENT, AS_SENT, mine, [other.sid], ['5551230004']);
  }, 60000);
});
