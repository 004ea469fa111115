/**
 * On a PCI Mode account Twilio refuses a <Gather> whose action is not https (13337), so the
 * service must be run behind https (README: "Before a PCI assessment"). Here it runs as an
 * operator runs it: PUBLIC_URL https, TLS terminated in front of its http port (the emulator
 * plays the proxy), on an emulated PCI Mode account. Every Gather the service writes, sensitive
 * or not, must be https, and the media stream wss, or the caller is cut off mid-flow.
 */
import { currentExpiry } from '../support/values';
import { PAYMENTS_NUMBER, startHarness, waitFor, type Harness } from '../support/harness';

const CALLER = '+15551234567';
const PUBLIC_URL = 'https://ivr.example.test';

function answers(values: string[]) {
  let i = 0;
  return () => values[i++] ?? null;
}

describe('PCI Mode account', () => {
  let h: Harness;
  afterEach(async () => h.close());

  test('behind https: the payments flow runs to its masked handoff, every Gather https, the stream wss', async () => {
    h = await startHarness({ publicUrl: PUBLIC_URL, pciMode: true });
    const call = await h.emulator.placeCall({
      from: CALLER,
      to: PAYMENTS_NUMBER,
      voiceUrl: h.voiceUrl,
      statusCallback: h.statusUrl,
      onGather: answers(['1#', '73920584#', '4111111111111111#', currentExpiry(1), '123#']),
    });
    await waitFor(() => h.emulator.timelineFor(call.sid).some((e: any) => e.type === 'stream-open'), 'the bridge stream', 10000);

    expect(call.transcript.filter((e: any) => e.verb === 'ApplicationError')).toEqual([]);
    const actions = h.emulator
      .timelineFor(call.sid)
      .filter((e: any) => e.type === 'gather')
      .map((e: any) => e.action as string);
    expect(actions).toHaveLength(5);
    for (const a of actions) expect(a.startsWith(`${PUBLIC_URL}/`)).toBe(true);
    const stream = h.emulator.timelineFor(call.sid).find((e: any) => e.type === 'stream-open') as any;
    expect(stream).toMatchObject({ accepted: true });
    expect(stream.url.startsWith('wss://ivr.example.test/')).toBe(true);

    const session = await h.app.services.calls.get(call.sid);
    expect(Object.fromEntries(Object.entries(session!.fields).map(([k, f]) => [k, f.valid]))).toEqual({
      menu: true,
      account: true,
      card: true,
      expiry: true,
      cvv: true,
    });
    // https to another host: no plain-text warning at start, nor one for the media origin
    expect(h.logs.text).not.toContain('plain http to another host');
    expect(h.logs.text).not.toContain('media streams over wss only');
    await call.hangup();
  });

  test('behind plain http: Twilio refuses the first Gather (13337) and the call ends before a key is taken', async () => {
    h = await startHarness({ pciMode: true, plainHttp: true });
    let asked = 0;
    const call = await h.emulator.placeCall({
      from: CALLER,
      to: PAYMENTS_NUMBER,
      voiceUrl: h.voiceUrl,
      statusCallback: h.statusUrl,
      onGather: () => (asked++, '1#'),
    });
    await call.ended;
    expect(asked).toBe(0);
    // said at start: the flows that hand off to a bridge would never have their streams dialled
    const warned = h.logs.lines.map((l) => JSON.parse(l) as { msg: string; flows?: string[] }).find((l) => l.msg.includes('media streams over wss only'));
    expect(warned?.flows).toEqual(expect.arrayContaining(['payments']));
    expect(call.transcript.at(-1)).toMatchObject({ verb: 'ApplicationError', reason: expect.stringContaining('13337') });
  });
});
