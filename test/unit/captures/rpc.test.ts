/** Request/response between instances over one store's pub/sub, with a timeout for silence. */
import pino from 'pino';
import { CaptureRpc } from '../../../src/captures';
import { EmbeddedStore, makeKeys } from '../../../src/store';

const SID = 'CA' + '3'.repeat(32);
const log = pino({ level: 'silent' });

describe('CaptureRpc', () => {
  it('runs a start and a cancel on the named instance and brings the answer back', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('r:');
    const a = new CaptureRpc(store, keys, 'A', log);
    const b = new CaptureRpc(store, keys, 'B', log);
    const seen: string[] = [];
    await a.listen({
      start: async (callSid, req) => (seen.push(`start ${callSid} ${req.request.kind}`), { ok: true, captureId: req.captureId }),
      cancel: async (callSid, captureId) => (seen.push(`cancel ${captureId}`), { ok: false, error: 'capture-not-found' }),
    });
    await b.listen({ start: async () => ({ ok: false, error: 'not-bridged' }), cancel: async () => ({ ok: true }) });
    expect(await b.call('A', { op: 'start', callSid: SID, captureId: 'cap_1', request: { name: 'card', kind: 'card-number' } })).toEqual({ ok: true, captureId: 'cap_1' });
    expect(await b.call('A', { op: 'cancel', callSid: SID, captureId: 'cap_1' })).toEqual({ ok: false, error: 'capture-not-found' });
    expect(await a.call('B', { op: 'start', callSid: SID, captureId: 'cap_2', request: { name: 'card', kind: 'card-number' } })).toEqual({ ok: false, error: 'not-bridged' });
    expect(seen).toEqual([`start ${SID} card-number`, 'cancel cap_1']);
    await a.close();
    await b.close();
  });

  it('answers instance-unreachable when nobody answers in time, and drops malformed requests', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('r:');
    const b = new CaptureRpc(store, keys, 'B', log, 100);
    await b.listen({ start: async () => ({ ok: false, error: 'not-bridged' }), cancel: async () => ({ ok: true }) });
    const t0 = Date.now();
    expect(await b.call('gone', { op: 'cancel', callSid: SID, captureId: 'cap_1' })).toEqual({ ok: false, error: 'instance-unreachable' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    await store.publish(keys.channel('capture-rpc:B'), '{"op":"start"}');
    await store.publish(keys.channel('capture-rpc:B'), 'not json');
    await b.close();
  });
});
