/**
 * Issue 11 item 5, issue 12: call events between instances are signed and typed; unsigned,
 * forged or malformed ones reach no handler and are counted, and an event that does not fit
 * its schema is refused before it is published.
 */
import pino from 'pino';
import { EventBus, type BusDeps, type DropReason } from '../../../src/bus';
import { EmbeddedStore, makeKeys, MessageSigner } from '../../../src/store';

const KEY = Buffer.alloc(32, 4);
const SID = 'CA' + '1'.repeat(32);
// delivery is asynchronous (setImmediate, like Redis): on fake timers everything published has been
// delivered once the clock moves on, so an absence below is proven, not hoped for
const settle = () => jest.advanceTimersByTimeAsync(20);

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

function deps(store: EmbeddedStore, dropped: string[] = [], lines: string[] = []): BusDeps {
  return {
    store,
    keys: makeKeys('e:'),
    signer: new MessageSigner([KEY]),
    log: pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }),
    onDropped: (bus, reason: DropReason) => void dropped.push(`${bus} ${reason}`),
  };
}

describe('EventBus', () => {
  it('hands each signed event to every handler once and refuses the rest', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('e:');
    const dropped: string[] = [];
    const lines: string[] = [];
    const bus = new EventBus(deps(store, dropped, lines));
    const other = new EventBus(deps(store));
    const a: string[] = [];
    const b: string[] = [];
    const unA = await bus.subscribe((e) => void a.push(`${e.type} ${e.callSid}`));
    const unB = await bus.subscribe((e) => void b.push(`${e.type} ${e.callSid}`));
    await other.publish({ type: 'call.ended', callSid: 'CA1', status: 'completed' });
    await settle();
    const channel = keys.eventsChannel();
    await store.publish(channel, JSON.stringify({ type: 'call.ended', callSid: 'CA2', status: 'completed' }));
    await store.publish(channel, new MessageSigner([Buffer.alloc(32, 8)]).sign(channel, { type: 'call.ended', callSid: 'CA3', status: 'completed' }));
    await settle();
    expect(a).toEqual(['call.ended CA1']);
    expect(b).toEqual(['call.ended CA1']);
    expect(dropped).toEqual(['events unsigned', 'events bad-signature']);
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['call event refused: not signed by an instance', 'call event refused: not signed by an instance']);
    await unA();
    await other.publish({ type: 'call.ended', callSid: 'CA4', status: 'busy' });
    await settle();
    expect(a).toEqual(['call.ended CA1']);
    expect(b).toEqual(['call.ended CA1', 'call.ended CA4']);
    await unB();
    await store.close();
  });

  it('drops and counts a signed event that does not parse: unknown type, missing field, a value where a masked form belongs', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('e:');
    const dropped: string[] = [];
    const lines: string[] = [];
    const bus = new EventBus(deps(store, dropped, lines));
    const got: unknown[] = [];
    const un = await bus.subscribe((e) => void got.push(e));
    const channel = keys.eventsChannel();
    const peer = new MessageSigner([KEY]);
    const card = '4111111111111111';
    await store.publish(channel, peer.sign(channel, { type: 'call.transferred', callSid: SID }));
    await store.publish(channel, peer.sign(channel, { type: 'call.ended', status: 'completed' }));
    await store.publish(channel, peer.sign(channel, { type: 'capture.progress', callSid: SID, captureId: 'cap_1', entered: 16, masked: card }));
    await store.publish(channel, peer.sign(channel, 'call.ended'));
    // a well-formed one still arrives, stripped of what its schema does not name
    await store.publish(channel, peer.sign(channel, { type: 'capture.progress', callSid: SID, captureId: 'cap_1', entered: 2, masked: '**', value: card }));
    await settle();
    expect(got).toEqual([{ type: 'capture.progress', callSid: SID, captureId: 'cap_1', entered: 2, masked: '**' }]);
    expect(dropped).toEqual(['events invalid', 'events invalid', 'events invalid', 'events invalid']);
    expect(lines.every((l) => JSON.parse(l).msg === 'call event is malformed: dropped')).toBe(true);
    expect(lines.join('\n')).not.toContain(card);
    await un();
    await store.close();
  });

  it('refuses to publish an event that does not fit its schema, naming the field but not its text', async () => {
    const store = new EmbeddedStore();
    const published: string[] = [];
    await store.subscribe(makeKeys('e:').eventsChannel(), (raw) => void published.push(raw));
    const bus = new EventBus(deps(store));
    const card = '4111111111111111';
    const event = { type: 'capture.progress', callSid: SID, captureId: 'cap_1', entered: 16, masked: card } as const;
    const err = await bus.publish(event).then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('TW_ERR_BUS_MESSAGE_INVALID');
    expect(err?.message).toContain('masked');
    expect(err?.message).not.toContain(card);
    await settle();
    expect(published).toEqual([]);
    await store.close();
  });
});
