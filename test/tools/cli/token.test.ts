import { TokenAuth } from '../../../src/auth/tokens';
import { jwtSecret, mintToken, parseTtl } from '../../../tools/cli/token';

const SECRET = 'cli-test-secret-0123456789abcdef-xyz';

describe('npm run token', () => {
  it('prints a token the service accepts, with the given claims and ttl', () => {
    const tok = mintToken(['--sub', 'alice', '--endpoint', 'client:alice', '--role', 'supervisor', '--ttl', '30m'], { AGENT_JWT_SECRET: SECRET });
    const p = new TokenAuth(SECRET).verify(tok);
    expect(p).toMatchObject({ sub: 'alice', endpoint: 'client:alice', role: 'supervisor' });
    expect(p.exp - Date.now() / 1000).toBeGreaterThan(29 * 60);
    expect(p.exp - Date.now() / 1000).toBeLessThanOrEqual(30 * 60);
    expect(() => new TokenAuth(SECRET + 'x').verify(tok)).toThrow();
  });

  it('prints a different token each time, even for the same claims in the same second', () => {
    const argv = ['--sub', 'alice', '--endpoint', 'client:alice', '--ttl', '30m'];
    jest.useFakeTimers({ now: Date.now() });
    let a: string, b: string;
    try {
      [a, b] = [mintToken(argv, { AGENT_JWT_SECRET: SECRET }), mintToken(argv, { AGENT_JWT_SECRET: SECRET })];
    } finally {
      jest.useRealTimers();
    }
    // signing one out (filed by its signed part) must leave the other good
    expect(a.slice(0, a.lastIndexOf('.'))).not.toBe(b.slice(0, b.lastIndexOf('.')));
  });

  it('defaults to an agent for 8 hours', () => {
    const p = new TokenAuth(SECRET).verify(mintToken(['--sub', 'bob', '--endpoint', '+15551230000'], { AGENT_JWT_SECRET: SECRET }));
    expect(p.role).toBe('agent');
    expect(Math.round((p.exp - Date.now() / 1000) / 3600)).toBe(8);
  });

  it('mints a supervisor or admin token without an endpoint, never an agent one', () => {
    for (const role of ['supervisor', 'admin']) {
      const p = new TokenAuth(SECRET).verify(mintToken(['--sub', 'root', '--role', role], { AGENT_JWT_SECRET: SECRET }));
      expect(p).toMatchObject({ sub: 'root', role });
      expect(p.endpoint).toBeUndefined();
    }
    expect(() => mintToken(['--sub', 'a'], { AGENT_JWT_SECRET: SECRET })).toThrow('--endpoint is required for an agent');
  });

  it('refuses a missing secret, a bad role, endpoint or ttl; takes a short secret as the service does', () => {
    expect(() => jwtSecret({})).toThrow('AGENT_JWT_SECRET is required');
    // a short secret is the service's to warn of at start, not refused (config-secrets.ts weakSecrets)
    expect(jwtSecret({ AGENT_JWT_SECRET: 'short' })).toBe('short');
    expect(() => mintToken(['--sub', 'a', '--endpoint', 'client:a', '--role', 'root'], { AGENT_JWT_SECRET: SECRET })).toThrow('--role');
    expect(() => mintToken(['--sub', 'a', '--endpoint', 'nowhere'], { AGENT_JWT_SECRET: SECRET })).toThrow();
    expect(() => mintToken(['--endpoint', 'client:a'], { AGENT_JWT_SECRET: SECRET })).toThrow('--sub');
    expect(() => parseTtl('8 hours')).toThrow('--ttl');
    expect(parseTtl('2d')).toBe(172800);
    // longer than the service accepts (12 h unless AGENT_JWT_MAX_LIFETIME_SECONDS says otherwise)
    expect(() => mintToken(['--sub', 'a', '--endpoint', 'client:a', '--ttl', '2d'], { AGENT_JWT_SECRET: SECRET })).toThrow('--ttl is longer');
    expect(() =>
      mintToken(['--sub', 'a', '--endpoint', 'client:a', '--ttl', '2d'], { AGENT_JWT_SECRET: SECRET, AGENT_JWT_MAX_LIFETIME_SECONDS: '172800' }),
    ).not.toThrow();
    expect(parseTtl('90')).toBe(90);
  });
});
