/** Issue 11 item 5: call events between instances are signed; unsigned or forged ones reach no handler. */
import { EventBus } from '../../src/events';
import { EmbeddedStore, makeKeys, MessageSigner } from '../../src/store';

const KEY = Buffer.alloc(32, 4);
// delivery is asynchronous (setImmediate, like Redis): on fake timers, everything already
// published has been delivered once the clock moves on, so an absence below is proven, not hoped for
const settle = () => jest.advanceTimersByTimeAsync(20);

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('EventBus', () => {
  it('hands each signed event to every handler once and refuses the rest', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('e:');
    const refused: string[] = [];
    const bus = new EventBus(store, keys, new MessageSigner([KEY]), (r) => void refused.push(r));
    const other = new EventBus(store, keys, new MessageSigner([KEY]));
    const a: string[] = [];
    const b: string[] = [];
    const unA = await bus.subscribe((e) => void a.push(`${e.type} ${e.callSid}`));
    const unB = await bus.subscribe((e) => void b.push(`${e.type} ${e.callSid}`));
    await other.publish({ type: 'call.ended', callSid: 'CA1' });
    await settle();
    const channel = keys.channel('events');
    await store.publish(channel, JSON.stringify({ type: 'call.ended', callSid: 'CA2' }));
    await store.publish(channel, new MessageSigner([Buffer.alloc(32, 8)]).sign(channel, { type: 'call.ended', callSid: 'CA3' }));
    await settle();
    expect(a).toEqual(['call.ended CA1']);
    expect(b).toEqual(['call.ended CA1']);
    expect(refused).toEqual(['unsigned', 'bad-signature']);
    await unA();
    await other.publish({ type: 'call.ended', callSid: 'CA4' });
    await settle();
    expect(a).toEqual(['call.ended CA1']);
    expect(b).toEqual(['call.ended CA1', 'call.ended CA4']);
    await unB();
    await store.close();
  });
});
