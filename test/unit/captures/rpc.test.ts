/** Request/response between instances over one store's pub/sub, with a timeout for silence. */
import pino from 'pino';
import { CaptureRpc } from '../../../src/captures';
import { EmbeddedStore, makeKeys, MessageSigner } from '../../../src/store';

// delivery is asynchronous (setImmediate, like Redis): on fake timers, everything already
// published has been delivered once the clock moves on, so an absence below is proven, not hoped for
const settle = () => jest.advanceTimersByTimeAsync(20);

const SID = 'CA' + '3'.repeat(32);
const log = pino({ level: 'silent' });
const KEY = Buffer.alloc(32, 9);
/** each instance has its own signer (its own memory of nonces), all with the deployment's key */
const signer = () => new MessageSigner([KEY]);

afterEach(() => jest.useRealTimers());

describe('CaptureRpc', () => {
  it('runs a start and a cancel on the named instance and brings the answer back', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('r:');
    const a = new CaptureRpc(store, keys, 'A', log, signer());
    const b = new CaptureRpc(store, keys, 'B', log, signer());
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
    const b = new CaptureRpc(store, keys, 'B', log, signer(), 100);
    await b.listen({ start: async () => ({ ok: false, error: 'not-bridged' }), cancel: async () => ({ ok: true }) });
    const t0 = Date.now();
    expect(await b.call('gone', { op: 'cancel', callSid: SID, captureId: 'cap_1' })).toEqual({ ok: false, error: 'instance-unreachable' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    await store.publish(keys.channel('capture-rpc:B'), '{"op":"start"}');
    await store.publish(keys.channel('capture-rpc:B'), 'not json');
    await b.close();
  });

  it('drops requests and replies not signed by an instance: nothing runs, the caller times out', async () => {
    jest.useFakeTimers();
    const store = new EmbeddedStore();
    const keys = makeKeys('r:');
    const seen: string[] = [];
    const a = new CaptureRpc(store, keys, 'A', log, signer());
    await a.listen({
      start: async (callSid, req) => (seen.push(`start ${callSid}`), { ok: true, captureId: req.captureId }),
      cancel: async (_c, captureId) => (seen.push(`cancel ${captureId}`), { ok: true }),
    });
    const start = { op: 'start', id: 'x1', replyTo: 'M', callSid: SID, captureId: 'cap_9', request: { name: 'card', kind: 'card-number' } };
    const channel = keys.channel('capture-rpc:A');
    // unsigned, signed with another key, and signed for another instance's channel
    await store.publish(channel, JSON.stringify(start));
    await store.publish(channel, new MessageSigner([Buffer.alloc(32, 1)]).sign(channel, start));
    await store.publish(channel, signer().sign(keys.channel('capture-rpc:B'), start));
    // a reply forged for a pending call does not answer it
    const b = new CaptureRpc(store, keys, 'B', log, signer(), 150);
    await b.listen({ start: async () => ({ ok: false, error: 'not-bridged' }), cancel: async () => ({ ok: true }) });
    const replies: string[] = [];
    await store.subscribe(keys.channel('capture-reply:B'), (raw) => void replies.push(raw));
    const pending = b.call('nobody', { op: 'cancel', callSid: SID, captureId: 'cap_1' });
    await jest.advanceTimersByTimeAsync(150);
    expect(await pending).toEqual({ ok: false, error: 'instance-unreachable' });
    await settle();
    expect(seen).toEqual([]);
    expect(replies).toEqual([]);
    // a signed request runs once; the same bytes again are a replay
    const signed = signer().sign(channel, start);
    await store.publish(channel, signed);
    await store.publish(channel, signed);
    await settle();
    expect(seen).toEqual([`start ${SID}`]);
    await a.close();
    await b.close();
  });
});
