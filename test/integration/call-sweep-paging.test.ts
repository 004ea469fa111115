/**
 * The call sweep (calls/sweep.ts) reads the live calls a page at a time: a deployment with many
 * thousands of live calls must not load every record into one list each period and hold it
 * while the REST reads run. Here more calls are live than fit a page; the sweep is built over
 * the app's own store and Twilio client, each watched, and run once: every call Twilio says is
 * over is ended and counted once, the live ones are left, and at no moment are more records read
 * and not yet looked up than one page holds. On both stores.
 */
import { startTwilioEmulator, type EmulatedCall, type TwilioEmulator } from '../../tools/emulator';
import { CallRepository } from '../../src/calls/repository';
import { CallSweep, type CallSweepDeps } from '../../src/calls/sweep';
import type { Store } from '../../src/store';
import { ACCOUNT_SID, AUTH_TOKEN, metricValue, startHarness, type Harness } from '../support/harness';
import { uniquePrefix } from '../support/redis';
import { silentCaller as callerWhoKeysNothing } from '../support/silent-caller';

const PAGE = 5;
const HUNG_UP = 17;
const LIVE = 4;
const CALLER = '+15551230000';

let emulator: TwilioEmulator;
beforeAll(async () => {
  emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
});
afterAll(async () => emulator.close());

const silentCaller = (h: Harness): Promise<EmulatedCall> => callerWhoKeysNothing(emulator, h.voiceUrl, CALLER);

/** `store` with every method call told to `seen` first */
function watched(store: Store, seen: (method: string, args: unknown[]) => void): Store {
  return new Proxy(store, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        seen(String(prop), args);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe.each(['redis', 'embedded'] as const)('the call sweep on the %s store', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    // the app's own sweep never runs: the test runs one
    h = await startHarness({ emulator, store: kind, keyPrefix: uniquePrefix('sweeppage'), build: { sweepEveryMs: 3_600_000 } });
  });
  afterAll(async () => h.close());

  test('reads the live calls a page at a time, and ends every call Twilio says is over, once', async () => {
    const s = h.app.services;
    const calls: EmulatedCall[] = [];
    for (let i = 0; i < HUNG_UP + LIVE; i++) calls.push(await silentCaller(h));
    const [over, live] = [calls.slice(0, HUNG_UP), calls.slice(HUNG_UP)];
    for (const c of over) await c.hangup();

    // records read and not yet looked up on Twilio: what the sweep holds
    const held = new Set<string>();
    let mostHeld = 0;
    const storeCalls: string[] = [];
    const callKey = s.keys.call('');
    const store = watched(s.store, (method, args) => {
      storeCalls.push(`${method} ${String(args[0])}`);
      const key = String(args[0]);
      if (method === 'get' && key.startsWith(callKey)) {
        held.add(key.slice(callKey.length));
        mostHeld = Math.max(mostHeld, held.size);
      }
    });
    const looked: string[] = [];
    const twilio: CallSweepDeps['twilio'] = {
      calls: new Proxy(s.twilio.calls, {
        apply(target, thisArg, args: [string]) {
          const call = Reflect.apply(target, thisArg, args) as ReturnType<CallSweepDeps['twilio']['calls']>;
          return new Proxy(call, {
            get(t, prop) {
              if (prop !== 'fetch') return Reflect.get(t, prop, t) as unknown;
              return async () => {
                const status = await t.fetch();
                looked.push(args[0]);
                held.delete(args[0]);
                return status;
              };
            },
          });
        },
      }),
    };
    const deps: CallSweepDeps = {
      ...s,
      store,
      calls: new CallRepository(store, s.keys, { vaultTtlSeconds: s.config.vaultTtlSeconds }),
      twilio,
      instanceId: 'sweep-paging-test',
      everyMs: 60_000,
      quietMs: 0,
      pageSize: PAGE,
    };
    const swept0 = await metricValue(h, 'tonewall_calls_swept_total');
    const active0 = await metricValue(h, 'tonewall_calls_active');

    const ended = await new CallSweep(deps).sweep();

    expect([...(ended ?? [])].sort()).toEqual(over.map((c) => c.sid).sort());
    // every live call looked up (a call SSCAN returned twice may be looked up twice)
    expect(new Set(looked)).toEqual(new Set(calls.map((c) => c.sid)));
    // never more records than a page between their read and their look-up, and the index never read whole
    expect(mostHeld).toBeGreaterThan(0);
    expect(mostHeld).toBeLessThanOrEqual(PAGE);
    expect(storeCalls.filter((c) => c.startsWith('smembers'))).toEqual([]);
    expect(storeCalls.filter((c) => c === `sscan ${s.keys.callIndex()}`).length).toBeGreaterThanOrEqual(1);

    expect(await metricValue(h, 'tonewall_calls_swept_total')).toBe(swept0 + HUNG_UP);
    expect(await metricValue(h, 'tonewall_calls_active')).toBe(active0 - HUNG_UP);
    for (const c of over) {
      expect((await s.calls.get(c.sid))?.state).toBe('ended');
      expect((await s.audit.list(c.sid)).filter((e) => e.type === 'call.ended')).toEqual([expect.objectContaining({ by: 'sweep' })]);
    }
    for (const c of live) expect((await s.calls.get(c.sid))?.state).toBe('ivr');
    for (const c of live) await c.hangup();
  }, 60_000);
});
