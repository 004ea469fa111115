/** Call sessions, vaults and stores for the audit, processors and privacy tests. */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Writable } from 'node:stream';
import type { CallSession, FieldState } from '../../src/calls/session';
import { RedisStore, makeKeys, type Keys } from '../../src/store';
import { Vault, generateKeyRingText, parseKeyRing } from '../../src/vault';
import { redisUrl, uniquePrefix } from './redis';

export const newCallSid = () => 'CA' + randomBytes(16).toString('hex');

export function makeSession(over: Partial<CallSession> & { callSid?: string } = {}): CallSession {
  const now = Date.now();
  return {
    callSid: newCallSid(),
    accountSid: 'AC' + '0'.repeat(32),
    flowId: 'payments',
    to: '+15005550006',
    fromMasked: '+*******4567',
    subject: 'f'.repeat(64),
    state: 'ivr',
    step: 0,
    attempt: 0,
    recording: { status: 'none' },
    fields: {},
    handoff: { mode: 'bridge' },
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

export function field(kind: FieldState['kind'], token: string | undefined, extra: Partial<FieldState> = {}): FieldState {
  return { kind, masked: '****', valid: token !== undefined, token, source: 'ivr', at: Date.now(), ...extra };
}

export async function redisFixture(name: string): Promise<{ store: RedisStore; keys: Keys; prefix: string; vault: Vault }> {
  const store = new RedisStore(redisUrl());
  await store.connect();
  const prefix = uniquePrefix(name);
  const keys = makeKeys(prefix);
  const vault = new Vault({
    keys: parseKeyRing(generateKeyRingText('k1')),
    ttlSeconds: 900,
    backend: store,
    keyPrefix: keys.vault(''),
    callIndexKey: keys.vaultIndex,
  });
  return { store, keys, prefix, vault };
}

/** a pino logger whose every line the test can read */
export function captureLog(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: pino({ level: 'trace' }, sink), lines };
}
