/**
 * OpenAPI for the agent API at /docs. Registered before the routes so swagger sees them; only
 * tagged routes (the agent API) are documented.
 */
import swagger from '@fastify/swagger';
import type { FastifySwaggerUiOptions } from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

/**
 * @fastify/swagger-ui is loaded through Node's own loader: its @fastify/static pulls an ESM-only
 * dependency (content-disposition 3) that Node 20 requires natively but jest's CommonJS module
 * registry cannot, and every test builds the real app.
 */
const nativeRequire = process.getBuiltinModule('node:module').createRequire(__filename);
const swaggerUi = (): FastifyPluginAsync<FastifySwaggerUiOptions> => {
  const m = nativeRequire('@fastify/swagger-ui') as { default?: FastifyPluginAsync<FastifySwaggerUiOptions> } & FastifyPluginAsync<FastifySwaggerUiOptions>;
  return m.default ?? m;
};

/** not encapsulated (fastify-plugin), so swagger sees the routes registered after it at the root */
export const agentDocs = fp(async (app) => {
  await app.register(swagger, {
    hideUntagged: true,
    openapi: {
      info: {
        title: 'tonewall agent API',
        description:
          'Agents see only their calls, masked. WebSocket: GET /agent/ws, first message {"type":"auth","token":"<jwt>"} within 5 s, else close 4401.',
        version: '1',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      tags: [{ name: 'agents', description: 'calls, offers and secure captures' }],
    },
  });
  await app.register(swaggerUi(), { routePrefix: '/docs' });
});
