/**
 * Issue 11 item 5: the key that signs messages between instances, and Redis deployed as a
 * trust boundary (a password in docker-compose, credentials in REDIS_URL).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../../src/config';
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

  test('a key given twice stops the start, as for SUBJECT_KEY and AUDIT_KEY (a rotation meant to add a key that added none)', () => {
    const key = 'instance-key-one-0123456789abcdef-01';
    const err = configErrorOf({ ...base, INSTANCE_MESSAGE_KEY: `${key},${key}` });
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('INSTANCE_MESSAGE_KEY');
    expect((err as ConfigError).message).toContain('a key is given twice');
    expect((err as ConfigError).message).not.toContain(key);
  });
});

describe('docker-compose', () => {
  const compose = parseYaml(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { command?: string[]; ports?: string[]; environment?: Record<string, string>; restart?: string }>;
  };

  // compose reads an .env beside it for ${…} only: a variable the service's environment does not
  // list never reaches the container, and the service runs without it, silently
  test("every variable the service reads is passed to it (the listen address is the image's own)", () => {
    const env = compose.services.tonewall.environment ?? {};
    const missing = CONFIG_VARIABLES.filter((v) => !(v in env) && v !== 'HOST');
    expect(missing).toEqual([]);
  });

  test('both services come back after a crash or a reboot', () => {
    expect(compose.services.tonewall.restart).toBe('unless-stopped');
    expect(compose.services.redis.restart).toBe('unless-stopped');
  });

  test('Redis requires a password, is not published on the host, and the service connects with it', () => {
    const redis = compose.services.redis;
    expect(redis.command?.join(' ')).toContain('--requirepass');
    expect(redis.environment?.REDIS_PASSWORD).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    expect(redis.ports).toBeUndefined();
    expect(compose.services.tonewall.environment?.REDIS_URL).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD:\?\}@redis:6379$/);
  });
});

describe('the configuration tables', () => {
  const names = (file: string) =>
    new Set(
      fs
        .readFileSync(path.join(root, file), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('| `'))
        .flatMap((l) => [...l.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1])),
    );

  test.each(['README.md', 'docs/contract.md'])('%s names every variable the service reads, and none it does not', (file) => {
    const documented = names(file);
    expect(CONFIG_VARIABLES.filter((v) => !documented.has(v))).toEqual([]);
    expect([...documented].filter((v) => !CONFIG_VARIABLES.includes(v))).toEqual([]);
  });
});
