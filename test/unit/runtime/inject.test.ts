/**
 * Fastify's inject() under jest. light-my-request 6.8 asks for cookie 2, which is ESM-only and
 * requires Node 22; package.json's overrides gives it cookie 1.1 (CommonJS, Node 18+), whose
 * stringifySetCookie({name, value}) it calls to build the Cookie header. These cases pin what
 * the route tests rely on: no cookie, headers as given, and the cookies option encoded.
 */
import Fastify, { type FastifyInstance } from 'fastify';

describe('inject()', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify({ logger: false });
    app.all('/echo/*', async (request, reply) => {
      reply.header('set-cookie', ['a=1; Path=/; HttpOnly', 'b=two%20words']);
      return {
        method: request.method,
        url: request.url,
        cookie: request.headers.cookie ?? null,
        auth: request.headers.authorization ?? null,
        host: request.headers.host,
        body: request.body ?? null,
      };
    });
    await app.ready();
  });
  afterAll(async () => app.close());

  test('without cookies no Cookie header is sent; headers, query, body and host pass as given', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/echo/x?q=1%202',
      headers: { authorization: 'Bearer t', host: 'attacker.example' },
      payload: { n: 1 },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ method: 'POST', url: '/echo/x?q=1%202', cookie: null, auth: 'Bearer t', host: 'attacker.example', body: { n: 1 } });
  });

  test('a Cookie header given as a header reaches the route unchanged', async () => {
    const res = await app.inject({ url: '/echo/x', headers: { cookie: 'raw=a/b; other=1' } });
    expect(res.json().cookie).toBe('raw=a/b; other=1');
  });

  test('the cookies option is encoded, joined after a given Cookie header, and filtered by path', async () => {
    const res = await app.inject({
      url: '/echo/x',
      headers: { cookie: 'first=0' },
      cookies: { plain: 'v', spaced: 'two words', elsewhere: { value: 'no', path: '/other' } as unknown as string },
    });
    expect(res.json().cookie).toBe('first=0; plain=v; spaced=two%20words');
  });

  test('response cookies are parsed from Set-Cookie', async () => {
    const res = await app.inject({ url: '/echo/x' });
    expect(res.cookies).toEqual([
      expect.objectContaining({ name: 'a', value: '1', path: '/', httpOnly: true }),
      expect.objectContaining({ name: 'b', value: 'two words' }),
    ]);
  });

  test('an invalid cookie name is refused, as cookie 2 refuses it', async () => {
    await expect(app.inject({ url: '/echo/x', cookies: { 'bad name': 'v' } })).rejects.toThrow(/invalid/);
  });
});
