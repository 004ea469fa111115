/**
 * CONTRACT §5's `exp` is a JWT NumericDate, which RFC 7519 §2 lets be a non-integer number of
 * seconds (`Date.now() / 1000 + 3600`, Python's `time.time() + 3600`). The claims schema asked
 * for whole numbers, so such a token, well signed and unexpired, was refused 401 on the API and
 * 4401 at the socket. `iat` is the same kind of value. An expired one is still refused.
 */
import { createHmac } from 'node:crypto';
import { JWT_SECRET, startHarness, type Harness } from '../../support/harness';
import { AgentSocket, api } from '../../support/agents';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

/** an HS256 JWT made by hand, as an identity system's library makes it (fast-jwt's signer takes only whole seconds) */
function sign(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', JWT_SECRET).update(signed).digest('base64url')}`;
}
const nowSeconds = () => Date.now() / 1000;

it('takes a token whose exp and iat are fractional seconds, on the API and the socket', async () => {
  const tok = sign({ sub: 'frac', endpoint: 'client:frac', role: 'agent', iat: nowSeconds(), exp: nowSeconds() + 3600.5 });
  expect(await api(h, 'GET', '/v1/calls', tok)).toEqual({ status: 200, body: { calls: [] } });
  const s = await AgentSocket.open(h, tok);
  expect(s.isOpen).toBe(true);
  s.close();
});

it('still refuses one whose fractional exp has passed', async () => {
  const tok = sign({ sub: 'frac', endpoint: 'client:frac', role: 'agent', exp: nowSeconds() - 3600.5 });
  expect((await api(h, 'GET', '/v1/calls', tok)).status).toBe(401);
});
