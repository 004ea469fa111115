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
  // pinned at 5.2.3: later versions pull an ESM-only content-disposition that jest cannot load
  await app.register(swaggerUi, { routePrefix: '/docs' });
});
