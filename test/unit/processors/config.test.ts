import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORE_SECRET_VARIABLES } from '../../../src/config-secrets';
import { loadProcessors, ProcessorsConfigError, weakProcessorSecrets } from '../../../src/processors';

const dir = mkdtempSync(join(tmpdir(), 'tw-proc-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const GATEWAY_KEY = 's3cret-text-of-the-gateway-0123456789';
const env = { GATEWAY_SECRET: GATEWAY_KEY, CRM_SECRET: 'crm-secret-text-0123456789abcdefgh', CARD_GATEWAY_USER: 'u', CARD_GATEWAY_PASSWORD: 'p' };

const good = `
processors:
  - name: gateway
    url: https://gateway.internal/v1/charge
    secretEnv: GATEWAY_SECRET
    fields: [card, expiry, cvv]
    eraseUrl: https://gateway.internal/v1/erase
  - name: crm
    url: https://crm.internal/hook
    secretEnv: CRM_SECRET
    fields: [account]
`;

function errorOf(fn: () => unknown): ProcessorsConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProcessorsConfigError);
    return e as ProcessorsConfigError;
  }
  throw new Error('expected an error');
}

describe('loadProcessors', () => {
  test('parses a valid file and resolves each secret', () => {
    const ps = loadProcessors(file('good.yaml', good), env);
    expect(ps.map((p) => [p.name, p.url, p.fields, p.eraseUrl])).toEqual([
      ['gateway', 'https://gateway.internal/v1/charge', ['card', 'expiry', 'cvv'], 'https://gateway.internal/v1/erase'],
      ['crm', 'https://crm.internal/hook', ['account'], undefined],
    ]);
    expect(ps[0].secret).toBe(GATEWAY_KEY);
    // the secret never serialises
    expect(JSON.stringify(ps)).not.toContain('s3cret');
    expect(Object.isFrozen(ps[0])).toBe(true);
  });

  test('the example file in config/ is valid', () => {
    const ps = loadProcessors(join(__dirname, '../../../config/processors.example.yaml'), env);
    expect(ps.map((p) => [p.name, p.protocol])).toEqual([
      ['gateway', 'tonewall'],
      ['crm', 'tonewall'],
      ['card-gateway', 'twilio-generic-pay'],
    ]);
  });

  test('an absent or empty file means no processors', () => {
    expect(loadProcessors(join(dir, 'missing.yaml'), env)).toEqual([]);
    expect(loadProcessors(file('empty.yaml', '# nothing\n'), env)).toEqual([]);
    expect(loadProcessors(file('none.yaml', 'processors: []\n'), env)).toEqual([]);
  });

  test.each([
    ['bad url', good.replace('https://gateway.internal/v1/charge', 'not a url'), 'processors.0.url'],
    ['ftp url', good.replace('https://gateway.internal/v1/charge', 'ftp://x/y'), 'processors.0.url'],
    ['no fields', good.replace('[card, expiry, cvv]', '[]'), 'processors.0.fields'],
    ['unknown key', good.replace('eraseUrl:', 'erase_url:'), 'processors.0'],
    ['duplicate name', good.replace('name: crm', 'name: gateway'), 'processors.1.name'],
    ['bad secretEnv', good.replace('secretEnv: CRM_SECRET', 'secretEnv: crm-secret'), 'processors.1.secretEnv'],
    ['top level', 'gateways: []\n', ''],
    ['plain http to another host', good.replace('https://crm.internal/hook', 'http://crm.internal/hook'), 'processors.1.url'],
    ['plain http eraseUrl', good.replace('https://gateway.internal/v1/erase', 'http://gateway.internal/v1/erase'), 'processors.0.eraseUrl'],
    ...['TWILIO_AUTH_TOKEN', 'AGENT_JWT_SECRET', 'VAULT_KEYS', 'SUBJECT_KEY', 'AUDIT_KEY', 'REDIS_URL'].map(
      (core) => [`secretEnv ${core}`, good.replace('secretEnv: CRM_SECRET', `secretEnv: ${core}`), 'processors.1.secretEnv'] as [string, string, string],
    ),
  ])('an invalid file (%s) names the file, the path and the reason', (_n, text, path) => {
    const p = file(`bad-${Math.random()}.yaml`, text);
    const e = errorOf(() => loadProcessors(p, env));
    expect(e.file).toBe(p);
    expect(e.path).toBe(path);
    expect(e.message.startsWith(p)).toBe(true);
    expect(e.reason.length).toBeGreaterThan(0);
  });

  test('plain http only to this machine or with an explicit allowInsecure', () => {
    const insecure = good.replace('https://crm.internal/hook', 'http://crm.internal/hook');
    expect(errorOf(() => loadProcessors(file('insecure.yaml', insecure), env)).reason).toContain('https');
    const allowed = loadProcessors(file('allowed.yaml', insecure.replace('secretEnv: CRM_SECRET', 'secretEnv: CRM_SECRET\n    allowInsecure: true')), env);
    expect(allowed[1]).toMatchObject({ url: 'http://crm.internal/hook', allowInsecure: true });
    expect(allowed[0].allowInsecure).toBe(false);
    for (const local of ['http://127.0.0.1:8080/hook', 'http://localhost:8080/hook', 'http://[::1]:8080/hook']) {
      expect(loadProcessors(file(`local-${Math.random()}.yaml`, good.replace('https://crm.internal/hook', local)), env)[1].url).toBe(local);
    }
  });

  // each set, so that what refuses it is its being a core secret, not its being unset
  test.each(['AGENT_JWT_SECRET', 'INSTANCE_MESSAGE_KEY', 'METRICS_TOKEN', 'CAPTURE_RESULT_SECRET'])(
    'a secretEnv naming a core secret (%s) is refused, and the reason never holds its text',
    (core) => {
      const e = errorOf(() =>
        loadProcessors(file(`core-${core}.yaml`, good.replace('secretEnv: CRM_SECRET', `secretEnv: ${core}`)), {
          ...env,
          [core]: 'the-core-secret-text-0123456789abcdef',
        }),
      );
      expect(e.path).toBe('processors.1.secretEnv');
      expect(e.reason).toContain(`${core} is one of the service's own secrets`);
      expect(e.message).not.toContain('the-core-secret-text');
    },
  );

  test('every variable of config.ts that holds a key, token or secret is one a secretEnv may not name', () => {
    // the schema's variable names, read from the one file that reads the environment
    const source = readFileSync(join(__dirname, '../../../src/config.ts'), 'utf8');
    const variables = [...source.matchAll(/^ {4}([A-Z][A-Z0-9_]*): /gm)].map((m) => m[1]);
    expect(variables).toEqual(expect.arrayContaining(['TWILIO_AUTH_TOKEN', 'VAULT_KEYS', 'INSTANCE_MESSAGE_KEY', 'FLOWS_DIR']));
    const secretLooking = variables.filter((v) => /(KEYS?|TOKEN|SECRET|PASSWORD)$/.test(v));
    expect(secretLooking.filter((v) => !CORE_SECRET_VARIABLES.includes(v))).toEqual([]);
    // and the store's URL, which holds its password
    expect(CORE_SECRET_VARIABLES).toContain('REDIS_URL');
  });

  test('invalid YAML names the file', () => {
    const p = file('broken.yaml', 'processors: [\n  - name: x\n');
    expect(errorOf(() => loadProcessors(p, env)).message).toContain(p);
  });

  test('a secretEnv naming an unset variable names it, never another secret', () => {
    const e = errorOf(() => loadProcessors(file('unset.yaml', good), { GATEWAY_SECRET: GATEWAY_KEY }));
    expect(e.message).toContain('CRM_SECRET is not set');
    expect(e.path).toBe('processors.1.secretEnv');
    expect(e.message).not.toContain('s3cret');
    expect(errorOf(() => loadProcessors(file('blank.yaml', good), { ...env, GATEWAY_SECRET: '' })).message).toContain('GATEWAY_SECRET');
  });

  test('a secretEnv shorter than 32 characters is taken as it is (CONTRACT §6), and named for the start-up warning, never its text', () => {
    const short = 'crm-key-of-31-characters-abcdef';
    expect(short).toHaveLength(31);
    const processors = loadProcessors(file('short.yaml', good), { ...env, CRM_SECRET: short });
    expect(processors[1].secret).toBe(short);
    expect(weakProcessorSecrets(processors)).toEqual([{ processor: processors[1].name, variable: 'CRM_SECRET' }]);
    expect(JSON.stringify(weakProcessorSecrets(processors))).not.toContain('crm-key');
    expect(weakProcessorSecrets(loadProcessors(file('long-enough.yaml', good), { ...env, CRM_SECRET: short + 'g' }))).toEqual([]);
    // one character is still a key; an empty one is none
    expect(loadProcessors(file('one.yaml', good), { ...env, CRM_SECRET: 'k' })[1].secret).toBe('k');
    expect(errorOf(() => loadProcessors(file('empty.yaml', good), { ...env, CRM_SECRET: '' })).message).toContain('CRM_SECRET is not set');
  });

  test('one secretEnv for two processors is refused: either could sign as the other', () => {
    const e = errorOf(() => loadProcessors(file('shared.yaml', good.replace('secretEnv: CRM_SECRET', 'secretEnv: GATEWAY_SECRET')), env));
    expect(e.path).toBe('processors.1.secretEnv');
    expect(e.reason).toBe('GATEWAY_SECRET is already the secretEnv of gateway: give each processor a key of its own');
    expect(e.message).not.toContain('s3cret');
  });

  test("a secretEnv that is also a processor's HTTP Basic credential is refused: that is sent to its gateway as it is", () => {
    const withConnector = `${good}  - name: card-gateway
    url: https://pay.internal/charge
    protocol: twilio-generic-pay
    usernameEnv: CARD_GATEWAY_USER
    passwordEnv: CARD_GATEWAY_PASSWORD
    method: tokenize
    fields: [card, expiry]
`;
    expect(loadProcessors(file('connector.yaml', withConnector), env).map((p) => p.name)).toEqual(['gateway', 'crm', 'card-gateway']);
    const e = errorOf(() => loadProcessors(file('basic-as-key.yaml', withConnector.replace('secretEnv: CRM_SECRET', 'secretEnv: CARD_GATEWAY_PASSWORD')), env));
    expect(e.path).toBe('processors.1.secretEnv');
    expect(e.reason).toBe('CARD_GATEWAY_PASSWORD is also an HTTP Basic credential of card-gateway: a signing key must be a variable of its own');
  });

  describe("a credential holding the text of one of the service's own secrets, or another processor's", () => {
    const JWT = 'the-agent-jwt-secret-text-0123456789abcdef';
    const VAULT_MATERIAL = Buffer.alloc(32, 7).toString('base64');
    const REDIS_PASSWORD = 'redis-password-text-0123456789abcdefgh';
    const core = {
      AGENT_JWT_SECRET: JWT,
      TWILIO_AUTH_TOKEN: 'the-twilio-auth-token-0123456789abcdef',
      SUBJECT_KEY: 'the-subject-key-text-0123456789abcdefgh',
      CAPTURE_RESULT_SECRET: 'the-capture-result-secret-0123456789ab',
      METRICS_TOKEN: 'the-metrics-token-text-0123456789abcdef',
      INSTANCE_MESSAGE_KEY: 'instance-key-one-0123456789abcdefghijk, instance-key-two-0123456789abcdefghijk',
      AUDIT_KEY: 'audit-key-new-0123456789abcdefghijklmnop,audit-key-old-0123456789abcdefghijklmnop',
      VAULT_KEYS: `k2:${Buffer.alloc(32, 9).toString('base64')},k1:${VAULT_MATERIAL}`,
      REDIS_URL: `redis://default:${encodeURIComponent(REDIS_PASSWORD)}@127.0.0.1:6379/0`,
    };
    const withConnector = `${good}  - name: card-gateway
    url: https://pay.internal/charge
    protocol: twilio-generic-pay
    usernameEnv: CARD_GATEWAY_USER
    passwordEnv: CARD_GATEWAY_PASSWORD
    method: tokenize
    fields: [card, expiry]
`;
    const coreEnv = { ...env, ...core };
    const refused = (name: string, text: string, over: Record<string, string>) => {
      const e = errorOf(() => loadProcessors(file(`${name}-${Math.random()}.yaml`, text), { ...coreEnv, ...over }));
      for (const secret of [...Object.values(over), ...Object.values(core)]) expect(e.message).not.toContain(secret);
      return e;
    };

    test('the service starts with each held apart', () => {
      expect(loadProcessors(file('apart.yaml', withConnector), coreEnv).map((p) => p.name)).toEqual(['gateway', 'crm', 'card-gateway']);
    });

    test.each([
      ['AGENT_JWT_SECRET', JWT],
      ['TWILIO_AUTH_TOKEN', core.TWILIO_AUTH_TOKEN],
      ['SUBJECT_KEY', core.SUBJECT_KEY],
      ['CAPTURE_RESULT_SECRET', core.CAPTURE_RESULT_SECRET],
      ['METRICS_TOKEN', core.METRICS_TOKEN],
      ['INSTANCE_MESSAGE_KEY (key 2 of its ring)', 'instance-key-two-0123456789abcdefghijk'],
      ['AUDIT_KEY (key 2 of its ring)', 'audit-key-old-0123456789abcdefghijklmnop'],
      ['VAULT_KEYS (the key of entry 2)', VAULT_MATERIAL],
      ['REDIS_URL (its password)', REDIS_PASSWORD],
    ])('a secretEnv holding the text of %s is refused, naming both variables', (where, text) => {
      const e = refused('core-text', good, { CRM_SECRET: text });
      expect(e.path).toBe('processors.1.secretEnv');
      expect(e.reason).toBe(`CRM_SECRET holds the same text as ${where}, one of the service's own secrets: give each processor a credential of its own`);
    });

    test('a Basic password or user name holding the JWT secret is refused: it is sent to the gateway in every request', () => {
      const password = refused('core-password', withConnector, { CARD_GATEWAY_PASSWORD: JWT });
      expect(password.path).toBe('processors.2.passwordEnv');
      expect(password.reason).toContain('CARD_GATEWAY_PASSWORD holds the same text as AGENT_JWT_SECRET');
      const user = refused('core-user', withConnector, { CARD_GATEWAY_USER: JWT });
      expect(user.path).toBe('processors.2.usernameEnv');
      expect(user.reason).toContain('CARD_GATEWAY_USER holds the same text as AGENT_JWT_SECRET');
    });

    test("two processors' variables holding one text are refused: either holds the other's key", () => {
      const key = refused('shared-text', good, { CRM_SECRET: GATEWAY_KEY });
      expect(key.path).toBe('processors.1.secretEnv');
      expect(key.reason).toBe('CRM_SECRET holds the same text as GATEWAY_SECRET (the secretEnv of gateway): give each processor a credential of its own');
      const password = refused('password-is-key', withConnector, { CARD_GATEWAY_PASSWORD: GATEWAY_KEY });
      expect(password.path).toBe('processors.2.passwordEnv');
      expect(password.reason).toBe(
        'CARD_GATEWAY_PASSWORD holds the same text as GATEWAY_SECRET (the secretEnv of gateway): give each processor a credential of its own',
      );
      // two gateways' passwords: the one could call the other as the service
      const twoGateways = `${withConnector}  - name: other-gateway
    url: https://other.internal/charge
    protocol: twilio-generic-pay
    usernameEnv: OTHER_USER
    passwordEnv: OTHER_PASSWORD
    method: tokenize
    fields: [card, expiry]
`;
      const passwords = refused('two-passwords', twoGateways, {
        CARD_GATEWAY_PASSWORD: 'one-gateway-password',
        OTHER_USER: 'other-user',
        OTHER_PASSWORD: 'one-gateway-password',
      });
      expect(passwords.path).toBe('processors.3.passwordEnv');
      expect(passwords.reason).toContain('OTHER_PASSWORD holds the same text as CARD_GATEWAY_PASSWORD (the passwordEnv of card-gateway)');
      // one user name for two gateways, and one variable named by two connectors, are not secrets handed across
      expect(loadProcessors(file('same-user.yaml', twoGateways), { ...coreEnv, OTHER_USER: 'u', OTHER_PASSWORD: 'other-password' })).toHaveLength(4);
      const oneGateway = twoGateways.replace('OTHER_USER', 'CARD_GATEWAY_USER').replace('OTHER_PASSWORD', 'CARD_GATEWAY_PASSWORD');
      expect(loadProcessors(file('one-gateway.yaml', oneGateway), coreEnv)).toHaveLength(4);
    });
  });
});
