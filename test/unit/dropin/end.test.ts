/**
 * DropinService.end: once the capture's return is saved, nothing that fails after it (the
 * processors' answer, the store, the audit trail) may leave the app without its result. Before
 * the save a failure still throws: the edge answers it.
 */
import { pino } from 'pino';
import type { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import { DropinService, type DropinDeps } from '../../../src/dropin/service';
import { RESULT_SIGNATURE_PARAM, verifyCaptureResult } from '../../../src/dropin/result-signature';
import { StoreErrors } from '../../../src/errors';
import { parseFlow } from '../../../src/flows/load';
import type { ProcessorConfig } from '../../../src/processors/config';
import type { AuditSink, RecordingController } from '../../../src/recording/controller';
import { EmbeddedStore, makeKeys, type Store } from '../../../src/store';

const SECRET = 'capture-result-secret-0123456789abcdef';
const CALL = 'CA' + 'c'.repeat(32);
const flow = parseFlow(
  'card.yaml',
  'id: card\nnumbers: ["+15005550151"]\nsteps:\n  - collect: card\n    kind: card-number\n    prompt: "Card, then hash."\nhandoff:\n  mode: dial\n',
);

function session(): CallSession {
  return {
    callSid: CALL,
    accountSid: 'AC' + 'a'.repeat(32),
    flowId: 'card',
    to: '+15005550151',
    fromMasked: '*******9876',
    subject: 'subject',
    state: 'ivr',
    step: 1,
    attempt: 1,
    recording: { status: 'none' },
    fields: { card: { kind: 'card-number', valid: true, masked: '************1111', last4: '1111', brand: 'visa', token: 'tok-card', source: 'ivr', at: 0 } },
    handoff: { mode: 'dial' },
    dropin: { returnUrl: 'https://shop.example.com/paid?order=42' },
    createdAt: 0,
    updatedAt: 0,
  } as CallSession;
}

/** a store and an audit trail that fail, and the log lines written */
function service(opts: { processors?: ProcessorConfig[] } = {}) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const down = () => Promise.reject(StoreErrors.unavailable());
  const deps: DropinDeps = {
    // the hang-up watch's store is down too: every command fails
    store: new Proxy({}, { get: () => down }) as unknown as Store,
    keys: makeKeys('t:'),
    calls: { update: down, get: down } as unknown as CallRepository,
    vault: { erase: down },
    audit: { append: down } as unknown as AuditSink,
    recording: {} as RecordingController,
    twilio: {} as DropinDeps['twilio'],
    processors: opts.processors ?? [],
    secret: SECRET,
    returnUrls: ['https://shop.example.com'],
    log,
    processorWaitMs: 20,
  };
  return { dropin: new DropinService(deps), lines, log };
}

/** the signed result in a <Redirect>'s URL, checked */
function returned(twiml: string): Record<string, string> {
  const url = /<Redirect method="POST">([^<]+)<\/Redirect>/.exec(twiml)?.[1];
  expect(url).toBeDefined();
  const q = new URL(url!.replace(/&amp;/g, '&')).searchParams;
  const sig = q.get(RESULT_SIGNATURE_PARAM);
  q.delete(RESULT_SIGNATURE_PARAM);
  expect(verifyCaptureResult(q, sig, SECRET)).toBe(true);
  return Object.fromEntries(q);
}

test('the audit entry cannot be written after the save: the redirect goes out all the same, the failure logged', async () => {
  const { dropin, lines, log } = service();
  let saved: CallSession | undefined;
  const twiml = await dropin.end(flow, session(), 'success', async (s) => void (saved = structuredClone(s)), log);
  expect(saved).toMatchObject({ state: 'returned', dropin: { result: 'success' } });
  expect(returned(twiml)).toMatchObject({ order: '42', CallSid: CALL, Result: 'success', card_last4: '1111', card_token: 'tok-card' });
  const failed = lines.find((l) => l.msg === 'drop-in audit entry not written');
  expect(failed).toMatchObject({ level: 50, result: 'success', err: expect.objectContaining({ code: StoreErrors.unavailable.code }) });
});

test('a processor that does not answer, and a store that cannot take processor-error: the app is told processor-error, each failure logged', async () => {
  const processor = {
    name: 'gateway',
    protocol: 'tonewall',
    fields: ['card'],
    url: 'https://pay.example.com',
    allowInsecure: false,
  } as unknown as ProcessorConfig;
  const { dropin, lines, log } = service({ processors: [processor] });
  const twiml = await dropin.end(flow, session(), 'success', async () => undefined, log);
  const r = returned(twiml);
  expect(r.Result).toBe('processor-error');
  expect(Object.keys(r).some((k) => k.startsWith('processor_'))).toBe(false);
  expect(lines.map((l) => l.msg)).toEqual(
    expect.arrayContaining([
      'drop-in capture: processor-error not saved on the call',
      'drop-in audit entry not written',
      'drop-in capture returned to the app',
    ]),
  );
});

test('the save itself fails: end throws (nothing returned as stored; the edge answers internal-error)', async () => {
  const { dropin, log } = service();
  await expect(dropin.end(flow, session(), 'success', () => Promise.reject(new Error('Connection is closed.')), log)).rejects.toThrow('Connection is closed.');
});

test("callEnded whose update runs again on another instance's write (the hang-up reported there first): no second audit entry, no second count out", async () => {
  const append = jest.fn(async () => undefined);
  const onLeft = jest.fn();
  const erase = jest.fn(async () => undefined);
  const store = new EmbeddedStore();
  const running = session();
  running.pendingMatch = { step: 1, token: 'tok-first' };
  const won: CallSession = { ...structuredClone(running), state: 'ended', dropin: { ...running.dropin!, result: 'caller-hung-up' }, pendingMatch: undefined };
  // the compare-and-set of the first run is refused: the store runs the change again on the record that won
  const update = jest.fn(async (_sid: string, fn: (s: CallSession) => void | false) => {
    fn(structuredClone(running));
    return fn(structuredClone(won)) === false ? won : null;
  });
  const dropin = new DropinService({
    store,
    keys: makeKeys('t:'),
    calls: { update } as unknown as CallRepository,
    vault: { erase },
    audit: { append } as unknown as AuditSink,
    recording: {} as RecordingController,
    twilio: {} as DropinDeps['twilio'],
    processors: [],
    secret: SECRET,
    returnUrls: ['https://shop.example.com'],
    log: pino({ level: 'silent' }),
    onLeft,
  });
  await dropin.callEnded(CALL, () => flow);
  expect(append).not.toHaveBeenCalled();
  expect(onLeft).not.toHaveBeenCalled();
  // the instance that won took the first entry off the record and erases it
  expect(erase).not.toHaveBeenCalled();
  await dropin.close();
  await store.close();
});

test('a return URL the record names that is not under CAPTURE_RETURN_URLS (the record changed in the store): no redirect there, refused before the save and audited', async () => {
  const { dropin, lines, log } = service();
  const s = session();
  s.dropin!.returnUrl = 'https://attacker.example.net/twiml';
  const save = jest.fn(async () => undefined);
  await expect(dropin.end(flow, s, 'success', save, log)).rejects.toMatchObject({ code: 'TW_ERR_DROPIN_RETURN_NOT_ALLOWED' });
  expect(save).not.toHaveBeenCalled();
  expect(lines.find((l) => l.msg === 'drop-in return refused')).toMatchObject({ level: 40, reason: 'return-url-not-allowed' });
  expect(JSON.stringify(lines)).not.toContain('attacker.example.net');
});
