/**
 * ERASE_RECORDINGS: whether an erasure deletes the caller's recordings at Twilio (privacy/service.ts).
 * Off unless the operator says so (some must keep recordings by law); anything but `true` or
 * `false` stops the start with a line naming the variable, as docker-compose's empty value does not.
 */
import { ConfigError, loadConfig } from '../../../src/config';
import { generateKeyRingText } from '../../../src/vault';

const base = {
  TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32),
  TWILIO_AUTH_TOKEN: 'x'.repeat(32),
  VAULT_KEYS: generateKeyRingText('k1'),
  AGENT_JWT_SECRET: 'j'.repeat(40),
};

test('off by default, and when docker-compose passes it empty', () => {
  expect(loadConfig(base).eraseRecordings).toBe(false);
  expect(loadConfig({ ...base, ERASE_RECORDINGS: '' }).eraseRecordings).toBe(false);
  expect(loadConfig({ ...base, ERASE_RECORDINGS: 'false' }).eraseRecordings).toBe(false);
});

test('true turns it on', () => {
  expect(loadConfig({ ...base, ERASE_RECORDINGS: 'true' }).eraseRecordings).toBe(true);
});

test.each(['yes', '1', 'TRUE', 'on'])('%s stops the start with a line naming the variable and what it takes', (value) => {
  let err: unknown;
  try {
    loadConfig({ ...base, ERASE_RECORDINGS: value });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).variable).toBe('ERASE_RECORDINGS');
  expect((err as ConfigError).message).toBe('ERASE_RECORDINGS must be true or false');
});
