/**
 * Security headers on every response (issue 11): @fastify/helmet for the app, and the same
 * headers as one fixed set for routes that set them themselves (Twilio's webhooks). A root
 * module, so every edge can use it.
 */
import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';

/**
 * The default policy: API answers are JSON, TwiML and NDJSON, so nothing may run or load beyond
 * the OpenAPI page's own files (/docs; its components set inline styles). The agent panel sends
 * a stricter policy of its own (agents/panel). HSTS tells browsers to keep to https when
 * PUBLIC_URL is https; over plain http (local testing) browsers ignore it.
 */
const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  upgradeInsecureRequests: null,
};

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    referrerPolicy: { policy: 'no-referrer' },
    // as the policy's frame-ancestors 'none' says: no page frames any of ours (helmet's default, SAMEORIGIN, contradicted it)
    frameguard: { action: 'deny' },
  });
}

/**
 * Answers about calls and callers (the agent API, a call's audit trail, a subject's report) are
 * kept by no cache: masked, they are still call data (a caller's last 4 digits, a card's last 4
 * and brand, who took a call), and without it Chromium keeps every `GET /v1/calls` the agent
 * panel reads in its disk cache on the agent's desktop. Set as each request arrives, so a
 * refusal (401, 404, 409) carries it too. Registered in each such plugin (encapsulated): Twilio's
 * webhooks do not pay for the hook.
 */
export function noStore(app: FastifyInstance): void {
  app.addHook('onRequest', (_req, reply, done) => {
    reply.header('cache-control', 'no-store');
    done();
  });
}

/**
 * The same headers as one fixed set, for routes that set them from it (Twilio's webhooks, with
 * `helmet: false`): @fastify/helmet builds helmet's middleware anew for every request (about 5%
 * of a first webhook's CPU in the bench's profile) to produce headers that never change. Computed once by @fastify/helmet
 * itself, as what a probe request gets with it and not without.
 */
export async function fixedSecurityHeaders(): Promise<Readonly<Record<string, string>>> {
  const probe = async (secured: boolean) => {
    const app = Fastify();
    if (secured) await registerSecurityHeaders(app);
    app.get('/', async () => '');
    try {
      return (await app.inject('/')).headers;
    } finally {
      await app.close();
    }
  };
  const [without, secured] = await Promise.all([probe(false), probe(true)]);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(secured)) if (without[name] === undefined && typeof value === 'string') headers[name] = value;
  return Object.freeze(headers);
}
