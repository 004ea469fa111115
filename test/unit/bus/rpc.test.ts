/** Request/reply between instances over one store's pub/sub: typed, parsed, signed, with a timeout for silence. */
import pino from 'pino';
import { InstanceRpc, isUnanswered, type BusDeps } from '../../../src/bus';
import { EmbeddedStore, makeKeys, MessageSigner } from '../../../src/store';

const SID = 'CA' + '3'.repeat(32);
const KEY = Buffer.alloc(32, 9);
const settle = () => new Promise((r) => setTimeout(r, 20));
const card = { name: 'card', kind: 'card-number' } as const;

/** each instance has its own signer (its own memory of nonces), all with the deployment's key */
function deps(store: EmbeddedStore, dropped: string[] = []): BusDeps {
  return {
    store,
    keys: makeKeys('r:'),
    signer: new MessageSigner([KEY]),
    log: pino({ level: 'silent' }),
    onDropped: (bus, reason) => void dropped.push(`${bus} ${reason}`),
  };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e as { code?: string }).code,
  );

describe('InstanceRpc', () => {
  it('runs a request on the named instance and brings its parsed answer back', async () => {
    const store = new EmbeddedStore();
    const a = new InstanceRpc(deps(store), 'A');
    const b = new InstanceRpc(deps(store), 'B');
    const seen: string[] = [];
    a.serve('capture.start', async (req) => (seen.push(`start ${req.callSid} ${req.request.kind}`), { ok: true, captureId: req.captureId }));
    a.serve('capture.cancel', async (req) => (seen.push(`cancel ${req.captureId}`), { ok: false, error: 'capture-not-found' }));
    expect(() => a.serve('capture.cancel', async () => ({ ok: true }))).toThrow();
    b.serve('capture.start', async () => ({ ok: false, error: 'not-bridged' }));
    await a.start();
    await b.start();
    expect(await b.request('A', 'capture.start', { callSid: SID, captureId: 'cap_1', request: card })).toEqual({ ok: true, captureId: 'cap_1' });
    expect(await b.request('A', 'capture.cancel', { callSid: SID, captureId: 'cap_1' })).toEqual({ ok: false, error: 'capture-not-found' });
    expect(await a.request('B', 'capture.start', { callSid: SID, captureId: 'cap_2', request: card })).toEqual({ ok: false, error: 'not-bridged' });
    expect(seen).toEqual([`start ${SID} card-number`, 'cancel cap_1']);
    await a.close();
    await b.close();
    await store.close();
  });

  it('rejects with a coded error: nobody answers in time, the handler there fails, there is no handler there', async () => {
    const store = new EmbeddedStore();
    const dropped: string[] = [];
    const a = new InstanceRpc(deps(store, dropped), 'A');
    const b = new InstanceRpc(deps(store), 'B', 100);
    a.serve('capture.start', async () => {
      throw new Error('executor exploded');
    });
    await a.start();
    await b.start();
    const t0 = Date.now();
    const silent = b.request('gone', 'capture.cancel', { callSid: SID, captureId: 'cap_1' });
    expect(await codeOf(silent)).toBe('TW_ERR_BUS_TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(await silent.catch(isUnanswered)).toBe(true);
    // a per-request timeout overrides the default
    expect(await codeOf(b.request('gone', 'capture.cancel', { callSid: SID, captureId: 'cap_1' }, { timeoutMs: 10 }))).toBe('TW_ERR_BUS_TIMEOUT');
    // A's answers are awaited longer than the 100 ms default: a loaded host's stall could outlast it (a CI run saw TW_ERR_BUS_TIMEOUT)
    const answered = { timeoutMs: 5000 };
    expect(await codeOf(b.request('A', 'capture.start', { callSid: SID, captureId: 'cap_1', request: card }, answered))).toBe('TW_ERR_BUS_REMOTE_FAILED');
    expect(await codeOf(b.request('A', 'capture.cancel', { callSid: SID, captureId: 'cap_1' }, answered))).toBe('TW_ERR_BUS_REMOTE_FAILED');
    expect(dropped).toEqual(['requests unhandled']);
    await a.close();
    await b.close();
    await store.close();
  });

  it('waits for an answer longer than its wait while the instance asked says it is working, and times out once that instance falls silent', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('r:');
    const replies: string[] = [];
    await store.subscribe(keys.replyChannel('B'), (raw) => void replies.push((JSON.parse(raw) as { p: string }).p));
    const working = () => replies.filter((p) => p.includes('"working":true')).length;
    // a wait long enough that a loaded host's event-loop stalls do not outlast it (at 100 ms a CI run timed out while A worked)
    const WAIT = 400;
    const a = new InstanceRpc(deps(store), 'A', WAIT);
    const b = new InstanceRpc(deps(store), 'B', WAIT);
    let slow = 0;
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    // a start that takes four of the requester's waits (a capture pausing recordings Twilio is slow to acknowledge)
    a.serve('capture.start', async (req) => (await new Promise((r) => setTimeout(r, slow)), { ok: true, captureId: req.captureId }));
    // a cancel that does not end before its instance goes away
    a.serve('capture.cancel', async () => (await stuck, { ok: true }));
    await a.start();
    await b.start();
    // a quick answer comes with no `working` before it
    expect(await b.request('A', 'capture.start', { callSid: SID, captureId: 'cap_0', request: card })).toEqual({ ok: true, captureId: 'cap_0' });
    expect(replies).toHaveLength(1);
    expect(working()).toBe(0);
    slow = 4 * WAIT;
    const t0 = Date.now();
    expect(await b.request('A', 'capture.start', { callSid: SID, captureId: 'cap_1', request: card })).toEqual({ ok: true, captureId: 'cap_1' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(slow - 10);
    expect(working()).toBeGreaterThanOrEqual(3);
    const t1 = Date.now();
    const cancel = b.request('A', 'capture.cancel', { callSid: SID, captureId: 'cap_1' });
    await new Promise((r) => setTimeout(r, 2 * WAIT));
    await a.close();
    const closedAt = Date.now();
    expect(await codeOf(cancel)).toBe('TW_ERR_BUS_TIMEOUT');
    // it waited past its own wait while A worked, and timed out only once A had been silent for it
    expect(Date.now() - t1).toBeGreaterThanOrEqual(2 * WAIT);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(WAIT / 4);
    release();
    await b.close();
    await store.close();
  });

  it('refuses to send a request that does not fit its schema, and rejects what is waiting when it closes', async () => {
    const store = new EmbeddedStore();
    const sent: string[] = [];
    const keys = makeKeys('r:');
    await store.subscribe(keys.requestChannel('A'), (raw) => void sent.push(raw));
    const b = new InstanceRpc(deps(store), 'B');
    await b.start();
    const bad = { callSid: SID, captureId: 'cap_1', request: { name: 'card', kind: 'iban' } } as unknown as Parameters<typeof b.request<'capture.start'>>[2];
    expect(await codeOf(b.request('A', 'capture.start', bad))).toBe('TW_ERR_BUS_MESSAGE_INVALID');
    const waiting = b.request('A', 'capture.cancel', { callSid: SID, captureId: 'cap_1' });
    await settle();
    await b.close();
    expect(await codeOf(waiting)).toBe('TW_ERR_BUS_CLOSED');
    expect(sent).toHaveLength(1);
    await store.close();
  });

  it('a signed reply that does not fit the operation rejects the request and is counted', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('r:');
    const dropped: string[] = [];
    const b = new InstanceRpc(deps(store, dropped), 'B');
    await b.start();
    // a peer on another version answers with a shape this one does not know
    const peer = new MessageSigner([KEY]);
    await store.subscribe(keys.requestChannel('A'), (raw) => {
      const id = (JSON.parse((JSON.parse(raw) as { p: string }).p) as { id: string }).id;
      const channel = keys.replyChannel('B');
      void store.publish(channel, peer.sign(channel, { id, ok: true, reply: { started: true } }));
    });
    expect(await codeOf(b.request('A', 'capture.start', { callSid: SID, captureId: 'cap_1', request: card }))).toBe('TW_ERR_BUS_REPLY_INVALID');
    expect(dropped).toEqual(['replies invalid']);
    await b.close();
    await store.close();
  });

  it('drops and counts requests and replies not signed by an instance: nothing runs, the caller times out', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('r:');
    const seen: string[] = [];
    const droppedA: string[] = [];
    const droppedB: string[] = [];
    const a = new InstanceRpc(deps(store, droppedA), 'A');
    a.serve('capture.start', async (req) => (seen.push(`start ${req.callSid}`), { ok: true, captureId: req.captureId }));
    await a.start();
    const start = { id: 'x'.repeat(16), replyTo: 'M', op: 'capture.start', body: { callSid: SID, captureId: 'cap_9', request: card } };
    const channel = keys.requestChannel('A');
    // unsigned, signed with another key, signed for another instance's channel, signed but malformed
    await store.publish(channel, JSON.stringify(start));
    await store.publish(channel, new MessageSigner([Buffer.alloc(32, 1)]).sign(channel, start));
    await store.publish(channel, new MessageSigner([KEY]).sign(keys.requestChannel('B'), start));
    await store.publish(channel, new MessageSigner([KEY]).sign(channel, { ...start, body: { callSid: SID } }));
    await store.publish(channel, 'not json');
    // a reply forged for a pending request does not answer it
    const b = new InstanceRpc(deps(store, droppedB), 'B', 150);
    await b.start();
    const pending = b.request('nobody', 'capture.cancel', { callSid: SID, captureId: 'cap_1' });
    await settle();
    const replyChannel = keys.replyChannel('B');
    await store.publish(replyChannel, JSON.stringify({ id: 'y'.repeat(16), ok: true, reply: { ok: true } }));
    expect(await codeOf(pending)).toBe('TW_ERR_BUS_TIMEOUT');
    await settle();
    expect(seen).toEqual([]);
    expect(droppedA).toEqual(['requests unsigned', 'requests bad-signature', 'requests bad-signature', 'requests invalid', 'requests malformed']);
    expect(droppedB).toEqual(['replies unsigned']);
    // a signed request runs once; the same bytes again are a replay
    const signed = new MessageSigner([KEY]).sign(channel, start);
    await store.publish(channel, signed);
    await store.publish(channel, signed);
    await settle();
    expect(seen).toEqual([`start ${SID}`]);
    expect(droppedA.at(-1)).toBe('requests replayed');
    await a.close();
    await b.close();
    await store.close();
  });
});
