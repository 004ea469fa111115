/**
 * What each group of Twilio's routes (routes.ts) is given: the services, the app to register on,
 * and serving.ts's `serve`, the one way every webhook is served (signature, replay guard,
 * handler, the safe answer or the route's rescue), with the route's answer time observed.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { CallRepository } from '../calls/repository';
import type { Config } from '../config';
import type { EventBus } from '../bus';
import type { FlowRunner } from './runner';
import type { FlowRegistry } from '../flows/load';
import type { Metrics } from '../metrics';
import type { AuditSink, RecordingController } from '../recording/controller';
import type { ReplayGuard, StoredAnswer } from './replay';
import type { Identify } from './replay-identity';
import type { BridgeLost } from './bridge-lost';
import type { DialOffers } from './dial-offer';
import type { FirstWebhook } from './first-webhook';
import type { WebhookWrite } from './webhook-write';
import type { RescueDeps } from './dropin-rescue';
import type { Early, Handler, Reads, Serving, webhookServing } from './serving';
import type { DropinService } from '../dropin/service';

export interface TwilioRouteDeps {
  config: Config;
  flows: FlowRegistry;
  runner: FlowRunner;
  calls: CallRepository;
  replay: ReplayGuard;
  /** a call's first webhook in one store round trip when its flow opens plainly */
  firstWebhook: FirstWebhook;
  /** a later webhook's step in one store write with its answer, its call read by the replay claim */
  webhookWrite: WebhookWrite;
  metrics: Metrics;
  audit: AuditSink;
  events: EventBus;
  log: Logger;
  /** a bridge's stream ended with its call up (its <Redirect> after <Connect>): the call taken up here */
  bridgeLost: BridgeLost;
  /** this instance is stopping (SIGTERM): a new call's first webhook is passed on */
  draining?: () => boolean;
  /** a dial handoff without `to`: its caller's hold loop (dial-offer.ts) */
  dialOffers: DialOffers;
  /** a drop-in capture's call ended (its hang-up watch and result: dropin/service.ts); no other call's end calls it */
  onCallEnded?: (callSid: string) => Promise<void>;
  /** drop-in captures (issue 13): POST /twilio/capture/:flowId */
  dropin?: DropinService;
  /** a failed webhook of a sensitive stretch resumes the recordings its action says it holds paused (stretch-rescue.ts) */
  recording: RecordingController;
  /** the clock the runner writes a stretch's or a drop-in capture's query time by, and its age is read by (BuildOptions.now) */
  now?: () => Date;
}

/**
 * Twilio's webhooks get the security headers from a set computed once (ops/access-log.ts), not
 * from @fastify/helmet's middleware rebuilt for every request: the same headers, made once.
 */
export const ROUTE_OPTIONS = { helmet: false as const };

type WebhookServing = ReturnType<typeof webhookServing>;

/** a route served by `serve` as the plain webhook it is, its answer timed (routes.ts); `identify` by its name unless given */
export type Route = (
  path: string,
  name: string,
  kind: 'voice' | 'callback',
  handler: Handler,
  identify?: Identify,
  early?: Early,
  reads?: Reads,
  passOn?: Serving['passOn'],
) => void;

/** one route group's share of twilioRoutes (routes.ts): every group registers its routes with these */
export interface RouteGroup {
  app: FastifyInstance;
  d: TwilioRouteDeps;
  serve: WebhookServing['serve'];
  observeLatency: WebhookServing['observeLatency'];
  route: Route;
  /** the clock a stretch's or a drop-in capture's query time is read by (TwilioRouteDeps.now, or the real one) */
  now: () => Date;
  /** what a drop-in capture's rescue (dropin-rescue.ts) is given; undefined without drop-in captures */
  rescueDeps: RescueDeps | undefined;
}

export function send(reply: FastifyReply, a: StoredAnswer): FastifyReply {
  return reply.code(a.status).type(a.contentType).send(a.body);
}
