/** `protocol: twilio-generic-pay` in the processors file: what it needs, what it refuses. */
import { parseProcessors, ProcessorsConfigError } from '../../../src/processors';

const env = {
  PAY_USER: 'connector-user',
  PAY_PASSWORD: 'pa55word-text',
  ERASE_SECRET: 'erase-secret-text-0123456789abcdefgh',
  GW: 'gw-secret-text-0123456789abcdefghij',
};

const charge = `
processors:
  - name: pay
    protocol: twilio-generic-pay
    url: https://gateway.example/pay
    usernameEnv: PAY_USER
    passwordEnv: PAY_PASSWORD
    fields: [card, expiry, cvv, zip]
    connectorFields: { postal_code: zip }
    method: charge
    amount: "10.00"
`;

function errorOf(text: string, e: Record<string, string> = env): ProcessorsConfigError {
  try {
    parseProcessors('p.yaml', text, e);
  } catch (err) {
    expect(err).toBeInstanceOf(ProcessorsConfigError);
    return err as ProcessorsConfigError;
  }
  throw new Error('expected an error');
}

test('a charge processor: credentials resolved but never enumerable, currency USD by default', () => {
  const [p] = parseProcessors('p.yaml', charge, env);
  expect(p).toMatchObject({
    protocol: 'twilio-generic-pay',
    fields: ['card', 'expiry', 'cvv', 'zip'],
    connector: { method: 'charge', amount: '10.00', currency: 'USD', connectorFields: { postal_code: 'zip' } },
  });
  if (p.protocol !== 'twilio-generic-pay') throw new Error('protocol');
  expect([p.username, p.password, p.secret]).toEqual(['connector-user', 'pa55word-text', undefined]);
  const text = JSON.stringify(p);
  expect(text).not.toContain('connector-user');
  expect(text).not.toContain('pa55word');
  expect(Object.isFrozen(p)).toBe(true);
});

test('a tokenize processor is reusable by default; one with eraseUrl signs erasures with secretEnv', () => {
  const text = `
processors:
  - { name: vault, protocol: twilio-generic-pay, url: "https://g.example/pay", usernameEnv: PAY_USER, passwordEnv: PAY_PASSWORD, fields: [card, expiry], method: tokenize, eraseUrl: "https://g.example/erase", secretEnv: ERASE_SECRET }
  - { name: legacy, url: "https://g.example/legacy", secretEnv: GW, fields: [card] }
`;
  const [vault, legacy] = parseProcessors('p.yaml', text, env);
  expect(vault).toMatchObject({
    connector: { method: 'tokenize', tokenType: 'reusable' },
    eraseUrl: 'https://g.example/erase',
    secret: 'erase-secret-text-0123456789abcdefgh',
  });
  expect(vault).not.toHaveProperty('connector.amount');
  // the default protocol is tonewall's
  expect(legacy).toMatchObject({ protocol: 'tonewall', secret: 'gw-secret-text-0123456789abcdefghij' });
});

test.each([
  ['no usernameEnv', charge.replace('    usernameEnv: PAY_USER\n', ''), 'processors.0.usernameEnv'],
  ['no passwordEnv', charge.replace('    passwordEnv: PAY_PASSWORD\n', ''), 'processors.0.passwordEnv'],
  ['no method', charge.replace('    method: charge\n', ''), 'processors.0.method'],
  ['a charge without amount', charge.replace('    amount: "10.00"\n', ''), 'processors.0.amount'],
  ['an amount YAML reads as a number', charge.replace('"10.00"', '10.00'), 'processors.0.amount'],
  ['a zero amount', charge.replace('"10.00"', '"0.00"'), 'processors.0.amount'],
  ['a tokenize with an amount', charge.replace('method: charge', 'method: tokenize'), 'processors.0.amount'],
  ['a charge with a tokenType', charge + '    tokenType: reusable\n', 'processors.0.tokenType'],
  ['a bad currency', charge + '    currency: dollars\n', 'processors.0.currency'],
  ['a mapped field not in fields', charge.replace('postal_code: zip', 'postal_code: postcode'), 'processors.0.connectorFields.postal_code'],
  ['an unknown connector field', charge.replace('postal_code: zip', 'routingnumber: zip'), 'processors.0.connectorFields'],
  ['one field mapped twice', charge.replace('{ postal_code: zip }', '{ postal_code: zip, cvv: zip }'), 'processors.0.connectorFields.postal_code'],
  ['eraseUrl without secretEnv', charge + '    eraseUrl: https://gateway.example/erase\n', 'processors.0.secretEnv'],
  ['a core secret as password', charge.replace('passwordEnv: PAY_PASSWORD', 'passwordEnv: VAULT_KEYS'), 'processors.0.passwordEnv'],
  [
    'connector settings on a tonewall processor',
    `processors:\n  - { name: x, url: "https://x.example", secretEnv: GW, fields: [card], method: charge }\n`,
    'processors.0.method',
  ],
  ['a tonewall processor without secretEnv', `processors:\n  - { name: x, url: "https://x.example", fields: [card] }\n`, 'processors.0.secretEnv'],
  ['an unknown protocol', charge.replace('protocol: twilio-generic-pay', 'protocol: stripe'), 'processors.0.protocol'],
])('refuses %s, naming where', (_n, text, path) => {
  expect(errorOf(text).path).toBe(path);
});

test('an unset credential is named, never its text; a user name with a colon is refused', () => {
  const unset = errorOf(charge, { PAY_USER: 'connector-user' });
  expect(unset.path).toBe('processors.0.passwordEnv');
  expect(unset.message).toContain('PAY_PASSWORD is not set');
  expect(unset.message).not.toContain('connector-user');
  const colon = errorOf(charge, { ...env, PAY_USER: 'user:name' });
  expect(colon.path).toBe('processors.0.usernameEnv');
  expect(colon.message).not.toContain('user:name');
});
