/**
 * What buildApp (app.ts) takes and what it builds: the options server.ts or a test passes, and
 * the services every route and test reaches through `app.services`. Types only: the composition
 * itself is app.ts's.
 */
import type { DestinationStream } from 'pino';
import type { TokenAuth } from './auth/tokens';
import type { AuditRetry, AuditTrail } from './audit';
import type { EventBus, CommandBus, InstanceRpc, SessionBus } from './bus';
import type { CallRepository } from './calls/repository';
import type { Config } from './config';
import type { FlowRegistry } from './flows/load';
import type { LiveCalls } from './live-calls';
import type { Logger } from './log';
import type { BridgeRegistry } from './media';
import type { StreamTokens } from './media/tokens';
import type { Metrics } from './metrics';
import type { MetricsServer } from './ops/metrics-server';
import type { SocketLimits } from './agents/socket-limits';
import type { PrivacyService, RecordingErasureQueue } from './privacy';
import type { Backoff, ProcessorConfig, ProcessorDelivery } from './processors';
import type { RecordingController } from './recording/controller';
import type { Keys, Store } from './store';
import type { ReplayGuard } from './twilio/replay';
import type { TwilioClient } from './twilio/rest';
import type { RestCheck } from './twilio/rest-check';
import type { FlowRunner } from './twilio/runner';
import type { Vault } from './vault';

export interface BuildOptions {
  /** where log lines go (tests read this stream); stdout by default */
  logStream?: DestinationStream;
  /** a store to use instead of the one REDIS_URL names */
  store?: Store;
  /** key prefix isolating this app's keys in a shared Redis (tests) */
  keyPrefix?: string;
  now?: () => Date;
  /** how long a caller waits on hold for an agent (bridge mode); tests shorten it */
  holdTimeoutMs?: number;
  /** the bound on unauthenticated agent sockets (agents/socket.ts MAX_PENDING_SOCKETS); tests lower it */
  maxPendingAgentSockets?: number;
  /** an agent socket's limits (agents/socket-limits.ts); tests change one at a time */
  agentSocketLimits?: Partial<SocketLimits>;
  /** how long a media stream may go without a message before it is closed as idle (media/stream.ts DEFAULT_IDLE_TIMEOUT_MS); tests shorten it */
  mediaIdleTimeoutMs?: number;
  /** REQUEST_TIMEOUT_MS unless a test shortens it */
  requestTimeoutMs?: number;
  /** drop-in captures: how often a waiting capture reads its call's status (dropin/service.ts HANGUP_POLL_MS) */
  dropinPollMs?: number;
  /** drop-in captures: the bound on waiting for a processor's answer (dropin/return-waits.ts PROCESSOR_WAIT_MS) */
  dropinProcessorWaitMs?: number;
  /** drop-in captures: the retries of a result POSTed to the app (processors/http.ts DEFAULT_BACKOFF) */
  dropinBackoff?: Backoff;
  /** processor deliveries: the retries of a delivery that failed (processors/http.ts DEFAULT_BACKOFF); tests shorten them */
  processorBackoff?: Backoff;
  /** erasures forwarded to processors: the retries of one that failed (processors/erase.ts ERASURE_BACKOFF); tests shorten them */
  erasureBackoff?: Backoff;
  /** erasure forwards kept until acknowledged: the retries after the forward's own (processors/erase-queue.ts), and how often they are polled */
  erasureRetryBackoff?: Backoff;
  erasurePollMs?: number;
  /** ERASE_RECORDINGS: deletions of recordings Twilio did not take yet, their retries, for how long, and how often polled (privacy/recording-queue.ts) */
  recordingErasureBackoff?: Backoff;
  recordingErasureWindowMs?: number;
  recordingErasurePollMs?: number;
  /** calls no status callback ended: how often they are swept, after how long without a change (calls/sweep.ts) */
  sweepEveryMs?: number;
  sweepQuietMs?: number;
  /** a call taken up after its instance was lost: how long before a capture that instance ran is ended (live-calls.ts LOST_CAPTURE_GRACE_MS) */
  lostCaptureGraceMs?: number;
  /** METRICS_PORT's default when it is unset (config.ts DEFAULT_METRICS_PORT); tests name a port they hold or know free */
  defaultMetricsPort?: number;
  /** the first wait before an unverified REST configuration is checked again (twilio/rest-check.ts REST_CHECK_RETRY_FIRST_MS); tests shorten it */
  restCheckRetryMs?: number;
  /** the retries of audit appends the store failed (audit/held.ts AUDIT_RETRY); tests shorten them */
  auditRetry?: Partial<AuditRetry>;
}

export interface Services {
  config: Config;
  log: Logger;
  store: Store;
  keys: Keys;
  metrics: Metrics;
  flows: FlowRegistry;
  calls: CallRepository;
  vault: Vault;
  audit: AuditTrail;
  events: EventBus;
  /** tokens signed out, told to every instance (bus/sessions.ts) */
  sessions: SessionBus;
  twilio: TwilioClient;
  recording: RecordingController;
  tokens: StreamTokens;
  runner: FlowRunner;
  auth: TokenAuth;
  subjectHash: (subject: string) => string;
  draining: boolean;
  processors: ProcessorConfig[];
  /** signed delivery of complete fields to downstream processors; call onCallUpdated after a session change */
  delivery: ProcessorDelivery;
  privacy: PrivacyService;
  /** ERASE_RECORDINGS: the recording deletions kept to be tried again */
  recordingErasures?: RecordingErasureQueue;
  /** instance commands (dial-agent) published to the instance holding a bridge */
  commands: CommandBus;
  /** requests to another instance that wait for its answer (captures) */
  rpc: InstanceRpc;
  /** the media bridges this instance holds, by the caller's CallSid */
  bridges: BridgeRegistry;
  /** bridges and captures on this instance, started and stopped together */
  live: LiveCalls;
  /** webhook answers by meaning, per call (replays get the first answer; erasure forgets them) */
  replay: ReplayGuard;
  /** the REST configuration proven against Twilio: /readyz, the recording controller's 404s, server.ts's stop on a refusal */
  restCheck: RestCheck;
  /** /metrics on METRICS_PORT: server.ts (and the test harness) start it after app.listen */
  metricsServer: MetricsServer;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}
