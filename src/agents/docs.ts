/**
 * OpenAPI for the agent API at /docs. Registered before the routes so swagger sees them; only
 * tagged routes (the agent API) are documented.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';

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
  // pinned at 6.1.0 in package.json: 6.1.1 and later pull @fastify/static 10 and content-disposition 3,
  // which requires Node 22 (and is ESM-only); test/unit/runtime/engines.test.ts fails on such a bump
  await app.register(swaggerUi, { routePrefix: '/docs' });
});
