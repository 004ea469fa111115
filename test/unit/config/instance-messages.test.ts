/**
 * Issue 11 item 5: the key that signs messages between instances, and Redis deployed as a
 * trust boundary (a password in docker-compose, credentials in REDIS_URL).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadConfig } from '../../../src/config';
import { generateKeyRingText } from '../../../src/vault';

const root = path.join(__dirname, '../../..');
const base = {
  TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32),
  TWILIO_AUTH_TOKEN: 'x'.repeat(32),
  VAULT_KEYS: generateKeyRingText('k1'),
  AGENT_JWT_SECRET: 'j'.repeat(40),
};

/** what loadConfig threw for `env` (undefined: it took it) */
function configErrorOf(env: Record<string, string>): unknown {
  try {
    loadConfig(env);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('INSTANCE_MESSAGE_KEY', () => {
  test('optional: unset (or empty, as docker-compose passes it), the app derives the key', () => {
    expect(loadConfig(base).instanceMessageKeys).toBeUndefined();
    expect(loadConfig({ ...base, INSTANCE_MESSAGE_KEY: '' }).instanceMessageKeys).toBeUndefined();
  });

  test('a key ring: the first signs, all verify', () => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(40);
    expect(loadConfig({ ...base, INSTANCE_MESSAGE_KEY: `${a}, ${b}` }).instanceMessageKeys).toEqual([a, b]);
  });

  test('no key of the ring may be another secret: the JWT secret or the Twilio auth token', () => {
    for (const [other, text] of [
      ['AGENT_JWT_SECRET', base.AGENT_JWT_SECRET],
      ['TWILIO_AUTH_TOKEN', base.TWILIO_AUTH_TOKEN],
    ]) {
      const err = configErrorOf({ ...base, INSTANCE_MESSAGE_KEY: `${'a'.repeat(32)},${text}` });
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe('INSTANCE_MESSAGE_KEY');
      expect((err as ConfigError).message).toContain(`must not be the same text as ${other}`);
      expect((err as ConfigError).message).not.toContain(text);
    }
  });

  test('a short key stops the start with a line naming the variable, not the value', () => {
    const bad = 'short-secret-value';
    const err = configErrorOf({ ...base, INSTANCE_MESSAGE_KEY: `${'a'.repeat(32)},${bad}` });
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('INSTANCE_MESSAGE_KEY');
    expect((err as ConfigError).message).not.toContain(bad);
  });
});

describe('docker-compose', () => {
  const compose = parseYaml(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { command?: string[]; ports?: string[]; environment?: Record<string, string> }>;
  };

  test('Redis requires a password, is not published on the host, and the service connects with it', () => {
    const redis = compose.services.redis;
    expect(redis.command?.join(' ')).toContain('--requirepass');
    expect(redis.environment?.REDIS_PASSWORD).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    expect(redis.ports).toBeUndefined();
    expect(compose.services.tonewall.environment?.REDIS_URL).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD:\?\}@redis:6379$/);
  });
});
