import pino from 'pino';
import { CommandBus } from '../../../src/media/commands';
import { EmbeddedStore, makeKeys } from '../../../src/store';

describe('CommandBus', () => {
  it('delivers a command to the handler for its type on the named instance only', async () => {
    const store = new EmbeddedStore();
    const keys = makeKeys('t:');
    const log = pino({ level: 'silent' });
    const a = new CommandBus(store, keys, 'a', log);
    const b = new CommandBus(store, keys, 'b', log);
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    a.register('dial-agent', (c) => void gotA.push(c));
    b.register('dial-agent', (c) => void gotB.push(c));
    expect(() => a.register('dial-agent', () => undefined)).toThrow();
    await a.start();
    await b.start();
    await a.send('b', { type: 'dial-agent', callSid: 'CA1', endpoint: 'client:alice' });
    await store.publish(keys.instanceChannel('b'), 'not json');
    await store.publish(keys.instanceChannel('b'), JSON.stringify({ type: 'nobody-handles-this', callSid: 'CA1' }));
    await new Promise((r) => setTimeout(r, 20));
    expect(gotA).toEqual([]);
    expect(gotB).toEqual([{ type: 'dial-agent', callSid: 'CA1', endpoint: 'client:alice' }]);
    await a.stop();
    await b.stop();
    await store.close();
  });
});
