/** Call sessions, vaults and stores for the audit, processors and privacy tests. */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Writable } from 'node:stream';
import type { CallRepository } from '../../src/calls/repository';
import type { CallSession, FieldState } from '../../src/calls/session';
import { PrivacyService, type PrivacyServiceDeps } from '../../src/privacy';
import { RedisStore, makeKeys, type Keys } from '../../src/store';
import { type KeyRing, Vault, generateKeyRingText, parseKeyRing } from '../../src/vault';
import { redisUrl, scanRedis, uniquePrefix } from './redis';

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

export interface RedisFixture {
  store: RedisStore;
  keys: Keys;
  prefix: string;
  vault: Vault;
  /** the vault's key ring (VAULT_KEYS), for what else seals with it (an erasure queue) */
  vaultKeys: KeyRing;
}

export async function redisFixture(name: string): Promise<RedisFixture> {
  const store = new RedisStore(redisUrl());
  await store.connect();
  const prefix = uniquePrefix(name);
  const keys = makeKeys(prefix);
  const vaultKeys = parseKeyRing(generateKeyRingText('k1'));
  const vault = new Vault({
    keys: vaultKeys,
    ttlSeconds: 900,
    backend: store,
    keyPrefix: keys.vault(''),
    callIndexKey: keys.vaultIndex,
  });
  return { store, keys, prefix, vault, vaultKeys };
}

/**
 * A redisFixture of each test's own (`name` in its prefix), read once beforeEach ran. After each
 * test, and after `after` (the test's own clean-up), no key it left is kept for ever (each has a
 * TTL), and its store is closed.
 */
export function eachRedisFixture(name: string, after?: () => Promise<void>): RedisFixture {
  const fx = {} as RedisFixture;
  beforeEach(async () => {
    Object.assign(fx, await redisFixture(name));
  });
  afterEach(async () => {
    await after?.();
    expect((await scanRedis(fx.prefix)).filter((k) => k.ttl < 0)).toEqual([]);
    await fx.store.close();
  });
  return fx;
}

/**
 * A PrivacyService over a store, its keys and vault, a call repository and an audit trail, with
 * no processors, nothing to replay and a log of its own unless `deps` names them.
 */
export function privacyService(deps: Omit<PrivacyServiceDeps, 'processors' | 'replay' | 'log'> & Partial<PrivacyServiceDeps>): PrivacyService {
  return new PrivacyService({ processors: [], replay: { forget: async () => undefined }, log: captureLog().log, ...deps });
}

/** `calls`, but its remove runs `first` before it removes the record: what an erasure meets just before it removes a call's */
export function removingAfter(calls: CallRepository, first: (session: Pick<CallSession, 'callSid' | 'subject'>) => Promise<unknown>): CallRepository {
  const repo = Object.create(calls) as CallRepository;
  repo.remove = async (session) => {
    await first(session);
    return calls.remove(session);
  };
  return repo;
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
