/** The agent API's authentication (CONTRACT §5) on the real app, through inject(). */
import { buildInjectedApp, type InjectedApp } from '../../support/app';
import { agentRoutes as routes } from '../../support/agents';

let t: InjectedApp;
let alice: string;
beforeAll(async () => {
  t = await buildInjectedApp();
  alice = t.token('alice');
});
afterAll(async () => t?.close());

const someSid = 'CA' + 'a'.repeat(32);

async function api(method: 'GET' | 'POST' | 'DELETE', url: string, tok: string | null, body?: unknown) {
  return t.inject({ method, url, headers: tok ? { authorization: `Bearer ${tok}` } : {}, ...(body !== undefined ? { payload: body as object } : {}) });
}

describe('authentication', () => {
  it('answers 401 without a token or with a bad one, on every route', async () => {
    const forged = alice.slice(0, -4) + (alice.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const tok of [null, 'not-a-jwt', forged]) {
      expect((await api('GET', '/v1/calls', tok)).statusCode).toBe(401);
      for (const [method, p] of routes(someSid)) {
        const r = await api(method, p, tok, method === 'POST' ? { name: 'card', kind: 'card-number' } : undefined);
        expect([method, p, r.statusCode]).toEqual([method, p, 401]);
        // RFC 6750 §3: the scheme asked for, and whether a token was sent and did not hold
        expect([method, p, r.headers['www-authenticate']]).toEqual([
          method,
          p,
          tok === null ? 'Bearer realm="tonewall"' : 'Bearer realm="tonewall", error="invalid_token"',
        ]);
      }
    }
  });

  it('sends no challenge where the token held (a 404 for a call it may not see)', async () => {
    const r = await api('GET', `/v1/calls/${someSid}`, alice);
    expect(r.statusCode).toBe(404);
    expect(r.headers['www-authenticate']).toBeUndefined();
  });
});
