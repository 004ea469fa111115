/**
 * Tokens from an identity system whose clock is not this one's: a little skew is taken
 * (CLOCK_TOLERANCE_MS), more is refused like any bad token.
 */
import { createSigner } from 'fast-jwt';
import { CLOCK_TOLERANCE_MS, TokenAuth } from '../../../src/auth/tokens';

const SECRET = 'unit-test-agent-jwt-secret-0123456789abcdef';
const sign = createSigner({ key: SECRET, algorithm: 'HS256' });
const now = () => Math.floor(Date.now() / 1000);
const claims = { sub: 'alice', endpoint: 'client:alice', role: 'agent' };
const skew = CLOCK_TOLERANCE_MS / 1000;

describe('TokenAuth clock tolerance', () => {
  const auth = new TokenAuth(SECRET);

  it('takes a token minted by a clock a little ahead (nbf, iat in the future) or one that expired a moment ago', () => {
    expect(auth.verify(sign({ ...claims, iat: now() + 5, nbf: now() + 5, exp: now() + 3600 })).sub).toBe('alice');
    expect(auth.verify(sign({ ...claims, exp: now() - 5 })).sub).toBe('alice');
  });

  it('refuses a token valid only from further ahead than the tolerance, or expired longer ago', () => {
    expect(() => auth.verify(sign({ ...claims, nbf: now() + skew + 60, exp: now() + 3600 }))).toThrow(expect.objectContaining({ statusCode: 401 }));
    expect(() => auth.verify(sign({ ...claims, exp: now() - skew - 60 }))).toThrow(expect.objectContaining({ statusCode: 401 }));
  });

  it('refuses a token issued further ahead than the tolerance, whatever its exp: its lifetime counted from that iat would be unbounded', () => {
    // iat a day ahead and exp 8 h after it: within the maximum lifetime counted from iat, yet good for 32 h
    const future = (ahead: number, lives: number) => sign({ ...claims, iat: now() + ahead, exp: now() + ahead + lives });
    expect(() => auth.verify(future(24 * 3600, 8 * 3600))).toThrow(
      expect.objectContaining({ statusCode: 401, message: expect.stringContaining('issued in the future') }),
    );
    expect(() => auth.verify(future(skew + 60, 60))).toThrow(expect.objectContaining({ statusCode: 401 }));
    expect(auth.verify(future(skew - 5, 3600)).sub).toBe('alice');
  });
});

describe('TokenAuth endpoint claim', () => {
  const auth = new TokenAuth(SECRET);
  const token = (role: string, endpoint?: string) => sign({ sub: 'u1', role, exp: now() + 3600, ...(endpoint === undefined ? {} : { endpoint }) });

  it('takes a supervisor or admin token without an endpoint: they read, audit and erase, and dial nothing', () => {
    for (const role of ['supervisor', 'admin']) {
      const p = auth.verify(token(role));
      expect(p).toMatchObject({ sub: 'u1', role });
      expect(p.endpoint).toBeUndefined();
    }
  });

  it("refuses an agent token without an endpoint, and any role's malformed endpoint", () => {
    expect(() => auth.verify(token('agent'))).toThrow(expect.objectContaining({ statusCode: 401 }));
    for (const role of ['agent', 'supervisor', 'admin']) {
      for (const endpoint of ['', 'nowhere', '+0123']) expect(() => auth.verify(token(role, endpoint))).toThrow(expect.objectContaining({ statusCode: 401 }));
      expect(auth.verify(token(role, 'sip:desk@pbx.example.com')).endpoint).toBe('sip:desk@pbx.example.com');
    }
  });
});

describe('TokenAuth.sign', () => {
  const auth = new TokenAuth(SECRET);
  const decoded = (tok: string) => JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;

  it('mints a token of its own every time: iat and a random jti, so two for the same claims in one second differ', () => {
    // one instant for both: the same second's iat and exp
    jest.useFakeTimers({ now: Date.now() });
    let a: string, b: string;
    try {
      a = auth.sign({ sub: 'alice', endpoint: 'client:alice', role: 'agent' }, 600);
      b = auth.sign({ sub: 'alice', endpoint: 'client:alice', role: 'agent' }, 600);
    } finally {
      jest.useRealTimers();
    }
    expect(a).not.toBe(b);
    // their signed parts too: a sign-out is filed by that part (auth/revocations.ts tokenDigest)
    expect(a.slice(0, a.lastIndexOf('.'))).not.toBe(b.slice(0, b.lastIndexOf('.')));
    const [pa, pb] = [decoded(a), decoded(b)];
    expect(pa.jti).toEqual(expect.any(String));
    expect(pa.jti).not.toBe(pb.jti);
    expect(pa.iat).toEqual(expect.any(Number));
    expect((pa.exp as number) - (pa.iat as number)).toBe(600);
    expect(auth.verify(a)).toMatchObject({ sub: 'alice', role: 'agent' });
  });

  it('still takes a token with no jti, and one with no iat either, as an IdP may mint them (CONTRACT §5)', () => {
    const bare = createSigner({ key: SECRET, algorithm: 'HS256', noTimestamp: true });
    expect(auth.verify(bare({ ...claims, exp: now() + 600 })).sub).toBe('alice');
    expect(auth.verify(sign({ ...claims, exp: now() + 600 })).sub).toBe('alice');
  });
});
