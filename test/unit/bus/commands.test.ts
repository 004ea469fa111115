import pino from 'pino';
import { CommandBus, type BusDeps } from '../../../src/bus';
import { EmbeddedStore, makeKeys, MessageSigner, MESSAGE_MAX_AGE_MS } from '../../../src/store';

// delivery is asynchronous (setImmediate, like Redis): on fake timers, everything already
// published has been delivered once the clock moves on, so an absence below is proven, not hoped for
const settle = () => jest.advanceTimersByTimeAsync(20);

const KEY = Buffer.alloc(32, 5);

function deps(store: EmbeddedStore, opts: { key?: Buffer[]; lines?: string[]; dropped?: string[] } = {}): BusDeps {
  return {
    store,
    keys: makeKeys('t:'),
    signer: new MessageSigner(opts.key ?? [KEY]),
    log: opts.lines ? pino({ level: 'warn' }, { write: (l: string) => void opts.lines!.push(l) }) : pino({ level: 'silent' }),
    onDropped: (bus, reason) => void opts.dropped?.push(`${bus} ${reason}`),
  };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('CommandBus', () => {
  it('delivers a command to the handler for its type on the named instance only; drops and counts what does not parse', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('t:');
    const dropped: string[] = [];
    const a = new CommandBus(deps(store), 'a');
    const b = new CommandBus(deps(store, { dropped }), 'b');
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    a.register('dial-agent', (c) => void gotA.push(c));
    b.register('dial-agent', (c) => void gotB.push(c));
    expect(() => a.register('dial-agent', () => undefined)).toThrow();
    await a.start();
    await b.start();
    await a.send('b', { type: 'dial-agent', callSid: 'CA1', endpoint: 'client:alice' });
    const channel = keys.instanceChannel('b');
    const peer = new MessageSigner([KEY]);
    await store.publish(channel, 'not json');
    await store.publish(channel, peer.sign(channel, { type: 'nobody-handles-this', callSid: 'CA1' }));
    await store.publish(channel, peer.sign(channel, { type: 'dial-agent', callSid: 'CA1' }));
    await settle();
    expect(gotA).toEqual([]);
    expect(gotB).toEqual([{ type: 'dial-agent', callSid: 'CA1', endpoint: 'client:alice' }]);
    expect(dropped).toEqual(['commands malformed', 'commands invalid', 'commands invalid']);
    await a.stop();
    await b.stop();
    await store.close();
  });

  it('counts a valid command this instance has no handler for', async () => {
    const store = new EmbeddedStore();
    const dropped: string[] = [];
    const b = new CommandBus(deps(store, { dropped }), 'b');
    await b.start();
    await new CommandBus(deps(store), 'a').send('b', { type: 'dial-agent', callSid: 'CA1', endpoint: 'client:alice' });
    await settle();
    expect(dropped).toEqual(['commands unhandled']);
    await b.stop();
    await store.close();
  });

  it('refuses a dial-agent that no instance signed: unsigned, wrong key, moved, stale or replayed', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('t:');
    const lines: string[] = [];
    const dropped: string[] = [];
    const b = new CommandBus(deps(store, { lines, dropped }), 'b');
    const got: unknown[] = [];
    b.register('dial-agent', (c) => void got.push(c));
    await b.start();
    const forged = { type: 'dial-agent', callSid: 'CA1', endpoint: '+15559990000' };
    const channel = keys.instanceChannel('b');
    await store.publish(channel, JSON.stringify(forged));
    await store.publish(channel, new MessageSigner([Buffer.alloc(32, 6)]).sign(channel, forged));
    await store.publish(channel, new MessageSigner([KEY]).sign(keys.instanceChannel('a'), forged));
    await store.publish(channel, new MessageSigner([KEY], { now: () => Date.now() - MESSAGE_MAX_AGE_MS - 1_000 }).sign(channel, forged));
    // a genuine one, captured off the channel and published again
    const captured: string[] = [];
    await store.subscribe(channel, (raw) => void captured.push(raw));
    const a = new CommandBus(deps(store), 'a');
    await a.send('b', { type: 'dial-agent', callSid: 'CA2', endpoint: 'client:alice' });
    await settle();
    await store.publish(
      channel,
      captured.find((raw) => raw.includes('CA2'))!,
    );
    await settle();
    expect(got).toEqual([{ type: 'dial-agent', callSid: 'CA2', endpoint: 'client:alice' }]);
    const reasons = lines
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'instance command refused: not signed by an instance')
      .map((l) => l.reason);
    expect(reasons).toEqual(['unsigned', 'bad-signature', 'bad-signature', 'stale', 'replayed']);
    expect(dropped).toEqual(['commands unsigned', 'commands bad-signature', 'commands bad-signature', 'commands stale', 'commands replayed']);
    // the refusal names no endpoint
    expect(lines.join('\n')).not.toContain('+15559990000');
    await b.stop();
    await store.close();
  });

  it('verifies with every key of the ring and signs with the first (rotation one instance at a time)', async () => {
    const store = new EmbeddedStore();
    const next = Buffer.alloc(32, 7);
    const old = new CommandBus(deps(store), 'a');
    const rotating = new CommandBus(deps(store, { key: [next, KEY] }), 'b');
    const got: string[] = [];
    old.register('dial-agent', (c) => void got.push(`a ${c.callSid}`));
    rotating.register('dial-agent', (c) => void got.push(`b ${c.callSid}`));
    await old.start();
    await rotating.start();
    await old.send('b', { type: 'dial-agent', callSid: 'CA1', endpoint: 'client:alice' });
    await rotating.send('a', { type: 'dial-agent', callSid: 'CA2', endpoint: 'client:alice' });
    await settle();
    // b accepts a's old key; a does not know b's new key yet
    expect(got).toEqual(['b CA1']);
    await old.stop();
    await rotating.stop();
    await store.close();
  });
});
