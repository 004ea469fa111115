/**
 * Issue 11 item 7: a token's lifetime is bounded (12 h by default, configurable) and, when the
 * deployment names them, its audience and issuer must match.
 */
import { createSigner } from 'fast-jwt';
import { TokenAuth } from '../../../src/auth/tokens';

const SECRET = 'token-limits-secret-0123456789abcdef-xyz';
const claims = { sub: 'alice', endpoint: 'client:alice', role: 'agent' };
const now = () => Math.floor(Date.now() / 1000);
/**
 * A token with exactly the claims given: `iat` only when given. fast-jwt's noTimestamp drops a
 * given iat too, which left these tests on the no-iat path, judged against the clock's second
 * (a token signed at 12 h + 1 s passed when the second turned between signing and verifying).
 */
const sign = (extra: Record<string, unknown>) =>
  createSigner({ key: SECRET, algorithm: 'HS256', noTimestamp: extra.iat === undefined })({ ...claims, ...extra });

describe('token lifetime', () => {
  test('a token living longer than 12 h past its iat is refused by default; 12 h is accepted', () => {
    const auth = new TokenAuth(SECRET);
    // an hour ago: the lifetime counts from the token's own iat, not from now
    const iat = now() - 3600;
    expect(auth.verify(sign({ iat, exp: iat + 12 * 3600 })).sub).toBe('alice');
    expect(() => auth.verify(sign({ iat, exp: iat + 12 * 3600 + 1 }))).toThrow(expect.objectContaining({ statusCode: 401 }));
    // a year-long token minted two hours ago
    expect(() => auth.verify(sign({ iat: iat - 3600, exp: iat + 365 * 86400 }))).toThrow(expect.objectContaining({ statusCode: 401 }));
  });

  test('without iat the remaining lifetime counts', () => {
    const auth = new TokenAuth(SECRET);
    expect(auth.verify(sign({ exp: now() + 3600 })).sub).toBe('alice');
    expect(() => auth.verify(sign({ exp: now() + 13 * 3600 }))).toThrow(expect.objectContaining({ statusCode: 401 }));
  });

  test('the maximum is configurable', () => {
    const auth = new TokenAuth(SECRET, { maxLifetimeSeconds: 3600 });
    const iat = now();
    expect(auth.verify(sign({ iat, exp: iat + 3600 })).sub).toBe('alice');
    expect(() => auth.verify(sign({ iat, exp: iat + 7200 }))).toThrow(expect.objectContaining({ statusCode: 401 }));
  });

  test("the service's own signer stays within the default", () => {
    const auth = new TokenAuth(SECRET);
    expect(auth.verify(auth.sign({ sub: 'bob', endpoint: 'client:bob', role: 'admin' })).role).toBe('admin');
  });
});

describe('audience and issuer', () => {
  const auth = new TokenAuth(SECRET, { audience: 'tonewall', issuer: 'https://idp.example.com' });
  const exp = now() + 600;

  test('when configured, both must be present and match', () => {
    expect(auth.verify(sign({ exp, aud: 'tonewall', iss: 'https://idp.example.com' })).sub).toBe('alice');
    for (const bad of [
      { exp },
      { exp, aud: 'tonewall' },
      { exp, iss: 'https://idp.example.com' },
      { exp, aud: 'other-service', iss: 'https://idp.example.com' },
      { exp, aud: 'tonewall', iss: 'https://evil.example.com' },
    ]) {
      expect(() => auth.verify(sign(bad))).toThrow(expect.objectContaining({ statusCode: 401 }));
    }
  });

  test('tokens the service signs carry them', () => {
    expect(auth.verify(auth.sign({ sub: 'bob', endpoint: 'client:bob', role: 'agent' })).sub).toBe('bob');
  });

  test('unconfigured, aud and iss are not required', () => {
    expect(new TokenAuth(SECRET).verify(sign({ exp })).sub).toBe('alice');
  });
});
