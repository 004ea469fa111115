/**
 * GET /media/:token, the Media Streams WebSocket (CONTRACT §4). The handshake is checked before
 * the upgrade, so a refusal is an HTTP status with no side effect: the signature first (HMAC of
 * the ws URL on MEDIA_PUBLIC_URL, empty params; missing → 400, wrong → 403), and only then is the
 * single-use token taken (unknown, reused or expired → 404; another instance's → 403).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { checkSignature } from './signature';
import type { BridgeRegistry } from '../media/registry';
import { DEFAULT_IDLE_TIMEOUT_MS, MediaStream } from '../media/stream';
import type { StreamGrant, StreamTokens } from '../media/tokens';

export interface MediaRouteDeps {
  config: Config;
  tokens: StreamTokens;
  bridges: BridgeRegistry;
  metrics: Metrics;
  log: Logger;
  isDraining: () => boolean;
  idleTimeoutMs?: number;
}

const grants = new WeakMap<FastifyRequest, StreamGrant>();

export function mediaRoutes(d: MediaRouteDeps) {
  return async function media(app: FastifyInstance): Promise<void> {
    const refuse = (reply: FastifyReply, status: number, reason: string) => {
      d.metrics.streamsRefused.inc({ reason });
      return reply.code(status).type('text/plain').send(`stream refused: ${reason}`);
    };

    app.get<{ Params: { token: string } }>(
      '/media/:token',
      {
        websocket: true,
        preValidation: async (req, reply) => {
          const path = req.url.replace(/\?.*$/, '');
          const verdict = checkSignature(d.config.twilio.authToken, req.headers['x-twilio-signature'], d.tokens.origin + path, {});
          if (!verdict.ok) return refuse(reply, verdict.status, `signature-${verdict.reason}`);
          const grant = await d.tokens.take(req.params.token);
          if (!grant) return refuse(reply, 404, 'token');
          if (grant.instanceId !== d.config.instanceId) return refuse(reply, 403, 'instance');
          if (grant.leg === 'caller' && d.isDraining()) return refuse(reply, 503, 'draining');
          grants.set(req, grant);
        },
      },
      (socket, req) => {
        const grant = grants.get(req);
        grants.delete(req);
        if (!grant) {
          socket.close(1008, 'refused');
          return;
        }
        const log = d.log.child({ callSid: grant.bridgeCallSid ?? grant.callSid, leg: grant.leg });
        const stream = new MediaStream(socket, grant.leg, d.metrics, log, d.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
        if (grant.leg === 'caller') d.bridges.attachCaller(grant, stream);
        else d.bridges.attachAgent(grant, stream);
      },
    );
  };
}
