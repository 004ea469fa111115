import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { generateKeyRingText } from '../../src/vault';

const root = path.join(__dirname, '../..');

/** the least environment loadConfig takes: the sample flows, no processors (tests add what they check) */
export function minimalEnv(): Record<string, string> {
  return {
    TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32),
    TWILIO_AUTH_TOKEN: 't'.repeat(32),
    VAULT_KEYS: generateKeyRingText('k1'),
    AGENT_JWT_SECRET: 'j'.repeat(40),
    FLOWS_DIR: path.join(root, 'config/flows'),
    PROCESSORS_FILE: path.join(root, 'test/fixtures/no-processors.yaml'),
  };
}

/** the ConfigError loadConfig stops the start with, given `env` over minimalEnv (a test fails if it loads) */
export function configRefusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ ...minimalEnv(), LOG_LEVEL: 'warn', ...env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
