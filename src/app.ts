/**
 * buildApp(config) assembles the whole service from its parts; server.ts only does process
 * things (listen, signals). Tests build the real app with a private store prefix and read its
 * real log stream. What it checks and says of its configuration is app-checks.ts's, the HTTP
 * server and what runs before every route app-http.ts's, the routes app-routes.ts's, subject
 * access and erasure with their queues app-privacy.ts's.
 */
import type { FastifyInstance } from 'fastify';
import { createSecretKey, hkdfSync } from 'node:crypto';
import { CLOCK_TOLERANCE_MS, TokenAuth } from './auth/tokens';
import { TokenRevocations } from './auth/revocations';
import { AuditKey, AuditKeyRing, AuditTrail } from './audit';
import { CallRepository } from './calls/repository';
import { CallSweep } from './calls/sweep';
import type { CallSession } from './calls/session';
import { DEFAULT_METRICS_PORT, type Config } from './config';
import { CommandBus, EventBus, InstanceRpc, SessionBus, type OnDropped } from './bus';
import { FlowRunner } from './twilio/runner';
import { createLogger, errFields } from './log';
import { LiveCalls } from './live-calls';
import { BridgeRegistry, HOLD_TIMEOUT_MS } from './media';
import { StreamTokens } from './media/tokens';
import { createMetrics } from './metrics';
import { fixedSecurityHeaders } from './security-headers';
import { MetricsServer } from './ops/metrics-server';
import { RecordingController } from './recording/controller';
import { BridgeRecordingGuard } from './recording/bridge-guard';
import { recordingList } from './recording/stretch';
import { createStore, makeKeys, MessageSigner } from './store';
import { ReplayGuard } from './twilio/replay';
import { createTwilioClient } from './twilio/rest';
import { RestCheck } from './twilio/rest-check';
import { DialOffers } from './twilio/dial-offer';
import { bridgeTwiml } from './twilio/twiml';
import { parseKeyRing, Vault } from './vault';
import { loadProcessors, ProcessorDelivery } from './processors';
import { subjectHash as hashSubject } from './privacy';
import { DropinService } from './dropin/service';
import { loadCheckedFlows, reportBuilt, warnOfSettings, warnOfWeakSecrets } from './app-checks';
import { CONNECTION_TIMEOUT_MS, createHttp, registerBeforeRoutes, REQUEST_TIMEOUT_MS } from './app-http';
import { buildPrivacy } from './app-privacy';
import { registerRoutes } from './app-routes';
import type { BuildOptions, Services } from './services';

export type { BuildOptions, Services } from './services';

function derive(secret: string | Buffer, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), label, 32));
}

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const log = createLogger(config.logLevel, opts.logStream);
  const flows = loadCheckedFlows(config);
  const keyRing = parseKeyRing(config.vaultKeys);
  const twilioClient = createTwilioClient(config.twilio);
  // before anything is opened: a REST configuration Twilio refuses stops the service here (twilio/rest-check.ts)
  const restCheck = new RestCheck({
    fetchAccount: () => twilioClient.api.v2010.accounts(config.twilio.accountSid).fetch(),
    accountSid: config.twilio.accountSid,
    apiBaseUrl: config.twilio.apiBaseUrl,
    log,
    retryFirstMs: opts.restCheckRetryMs,
  });
  await restCheck.check();
  const store = opts.store ?? (await createStore(config.redisUrl, log));
  const keys = makeKeys(opts.keyPrefix ?? 'tw:');
  const metrics = createMetrics();
  // tonewall_store_up: the store asked at each scrape, as /readyz asks it (a failure is the gauge's 0, logged by nothing)
  metrics.probeStore(() =>
    store.ping().then(
      () => true,
      () => false,
    ),
  );
  /** a call tonewall ended other than by its status callback or its bridge (a drop-in capture's return, an erasure) */
  const leftActive = () => metrics.callsActive.dec();
  // ERASE_RECORDINGS: a caller's link to their calls lives as long as the trails naming the recordings an erasure deletes
  const linkTtlSeconds = config.eraseRecordings ? config.auditRetentionDays * 86400 : undefined;
  const calls = new CallRepository(store, keys, { vaultTtlSeconds: config.vaultTtlSeconds, linkTtlSeconds });
  const vault = new Vault({
    keys: keyRing,
    ttlSeconds: config.vaultTtlSeconds,
    backend: store,
    keyPrefix: keys.prefix + 'vault:',
    callIndexKey: keys.vaultIndex,
  });
  // keys held only in the environment: a store writer cannot re-seal the trail (issue 11)
  if (!config.auditKeys)
    log.warn(
      { variable: 'AUDIT_KEY' },
      'AUDIT_KEY unset: audit entries sealed with a key derived from the first VAULT_KEYS key; trails it sealed stop verifying once that key leaves VAULT_KEYS',
    );
  // Without AUDIT_KEY, the keys derived from VAULT_KEYS seal (the first) and verify (each), so a
  // trail survives the vault's first key changing while the old one is kept. With it, they verify
  // nothing: the audit key is apart from the vault's so that whoever holds VAULT_KEYS cannot seal
  // entries that verify, and trails sealed before AUDIT_KEY was set report `unknown-key`.
  const auditKeys = new AuditKeyRing(
    config.auditKeys ? config.auditKeys.map((k) => AuditKey.fromSecret(k)) : keyRing.ids.map((id) => AuditKey.fromSecret(keyRing.get(id)!.key.export())),
  );
  const audit = new AuditTrail(store, keys, {
    key: auditKeys,
    ttlSeconds: config.auditRetentionDays * 86400,
    onBroken: (reason) => metrics.auditTrailsBroken.inc({ reason }),
    onAppendFailed: (reason) => metrics.auditAppendsFailed.inc({ reason }),
    retry: opts.auditRetry,
    onHeld: (held) => metrics.auditAppendsHeld.set(held),
    onWrittenLate: (entries) => metrics.auditAppendsWrittenLate.inc(entries),
    log,
  });
  // messages between instances are signed: Redis is a trust boundary (store/signed-messages.ts)
  const signer = new MessageSigner(
    config.instanceMessageKeys?.map((k) => Buffer.from(k, 'utf8')) ?? [derive(config.agentJwtSecret, 'tonewall instance messages v1')],
  );
  // what arrives on the bus and does not verify or parse is dropped, logged and counted
  const onDropped: OnDropped = (bus, reason) => metrics.busDropped.inc({ bus, reason });
  const bus = { store, keys, signer, log, onDropped };
  const events = new EventBus(bus);
  const sessions = new SessionBus(bus);
  const commands = new CommandBus(bus, config.instanceId);
  const rpc = new InstanceRpc(bus, config.instanceId);
  // resumes are never sent again by the client itself: see twilio/rest.ts
  const resumeClient = createTwilioClient({ ...config.twilio, retryTooManyRequests: false });
  const recording = new RecordingController({
    client: twilioClient,
    resumeClient,
    publicUrl: config.publicUrl,
    restVerified: () => restCheck.verified,
    audit,
    log,
    metrics: {
      pauseFailures: metrics.recordingPauseFailures,
      resumeFailures: metrics.recordingResumeFailures,
      pauses: metrics.recordingPauses,
      updateSeconds: metrics.recordingUpdateSeconds,
    },
  });
  const tokens = new StreamTokens(store, keys, config.mediaPublicUrl);
  const replay = new ReplayGuard(store, keys, derive(config.twilio.authToken, 'tonewall replay v1'));
  const metricsPort = config.metrics.port ?? opts.defaultMetricsPort ?? DEFAULT_METRICS_PORT;
  warnOfSettings(config, flows, metricsPort, log);
  // The caller index's ring: the first key files new calls (the webhook hashes under it alone);
  // access and erasure look a caller up under each, and under the key derived from
  // AGENT_JWT_SECRET, the index's without SUBJECT_KEY, so setting SUBJECT_KEY orphans no one.
  const subjectIndexKey = (secret: string) => createSecretKey(derive(secret, 'tonewall subject index v1'));
  const subjectKeys = [...(config.subjectKeys ?? []), config.agentJwtSecret].map(subjectIndexKey);
  const subjectHash = (subject: string) => hashSubject(subjectKeys[0], subject);
  const processors = loadProcessors(config.processorsFile, config.secrets);
  warnOfWeakSecrets(config, processors, log);
  /** every saved session change (IVR step or capture) may complete a processor's fields */
  const queueDelivery = (session: CallSession) => {
    delivery.onCallUpdated(session).catch((err) => log.warn({ err: errFields(err) }, 'processor delivery not queued'));
  };
  // a drop-in capture's last webhook waits for the processors' first answer (dropin/service.ts)
  const dropin = new DropinService({
    store,
    keys,
    calls,
    vault,
    recording,
    audit,
    twilio: twilioClient,
    processors,
    secret: config.capture.resultSecret,
    returnUrls: config.capture.returnUrls,
    log,
    onSessionChanged: queueDelivery,
    onLeft: leftActive,
    onEnded: async (callSid, status) => {
      metrics.callsEnded.inc({ status });
      // the hang-up watch moved the record to ended: its one call.ended is published here (a status callback after it publishes none)
      // (a failure is logged, not thrown: the capture's result is still reported)
      await events
        .publish({ type: 'call.ended', callSid, status })
        .catch((err: unknown) => log.warn({ callSid, err: errFields(err) }, 'call.ended not published'));
    },
    pollMs: opts.dropinPollMs,
    processorWaitMs: opts.dropinProcessorWaitMs,
    backoff: opts.dropinBackoff,
  });
  const delivery = new ProcessorDelivery({
    store,
    keys,
    vault,
    calls,
    processors,
    log,
    audit,
    backoff: opts.processorBackoff,
    onResult: (callSid, processor, result) => {
      // processor: a name from PROCESSORS_FILE, a fixed vocabulary
      metrics.processorDeliveries.inc({ processor, outcome: result.ok ? 'delivered' : 'failed' });
      dropin.onProcessorResult(callSid, processor, result);
      void events
        .publish({ type: 'processor.result', callSid, processor, ok: result.ok, status: result.status, result: result.body, attempts: result.attempts })
        .catch((err: unknown) => log.warn({ callSid, processor, err: errFields(err) }, 'processor result not published'));
    },
  });
  // erasure and access (GDPR), with the queues that keep what a processor or Twilio did not take yet
  const { privacy, erasureQueue, recordingQueue } = buildPrivacy({
    config,
    opts,
    store,
    keys,
    keyRing,
    processors,
    calls,
    vault,
    audit,
    replay,
    subjectKeys,
    log,
    metrics,
    twilioClient,
    leftActive,
    events,
  });
  // a bridge lost with the instance holding it is taken up by another: only where there can be another (twilio/bridge-lost.ts)
  const failover = config.redisUrl !== undefined;
  const runner = new FlowRunner({
    flows,
    calls,
    vault,
    recording,
    audit,
    store,
    events,
    tokens,
    metrics,
    publicUrl: config.publicUrl,
    instanceId: config.instanceId,
    subjectHash,
    now: opts.now,
    onSessionChanged: queueDelivery,
    dropin,
    control: twilioClient,
    bridgeFailover: failover,
  });
  const dropinEnded = (callSid: string, status?: string) => dropin.callEnded(callSid, (s) => (s.dropin ? runner.flowOf(s) : undefined), status);
  dropin.setEndedHandler(dropinEnded);
  // a token signed out, or unused for AGENT_IDLE_TIMEOUT_SECONDS, is refused: one store read per authenticated request (auth/revocations.ts, auth/idle.ts); its use is logged by actor
  const idle = { idleSeconds: config.agentIdleTimeoutSeconds, now: opts.now && (() => opts.now!().getTime()) };
  const revocations = new TokenRevocations(store, keys, CLOCK_TOLERANCE_MS, idle);
  const auth = new TokenAuth(config.agentJwtSecret, { ...config.jwt, revocations, actor: (p) => audit.actor(p) });
  // a recording another application starts on the caller's call during a bridge: paused at the caller's next key
  const bridgeGuard = new BridgeRecordingGuard({
    list: recordingList(twilioClient),
    recording,
    calls,
    audit,
    metrics,
    log,
  });
  const bridges = new BridgeRegistry({
    instanceId: config.instanceId,
    publicUrl: config.publicUrl,
    maskLookaheadMs: config.maskLookaheadMs,
    log,
    store,
    keys,
    calls,
    audit,
    events,
    twilio: twilioClient,
    twiml: bridgeTwiml,
    flows,
    tokens,
    metrics,
    vault,
    commands,
    holdTimeoutMs: opts.holdTimeoutMs,
    failover,
    onBridge: (bridge) => bridgeGuard.watch(bridge),
  });
  // a dial handoff without `to`: offered as a bridge call is, its caller in a hold loop until an accept moves the call to a <Dial>
  const dialOffers = new DialOffers({
    calls,
    store,
    keys,
    audit,
    events,
    flows,
    metrics,
    twilio: twilioClient,
    publicUrl: config.publicUrl,
    holdTimeoutMs: opts.holdTimeoutMs ?? HOLD_TIMEOUT_MS,
    now: opts.now ? () => opts.now!().getTime() : undefined,
  });
  const live = new LiveCalls({
    instanceId: config.instanceId,
    log,
    store,
    keys,
    calls,
    events,
    commands,
    rpc,
    bridges,
    audit,
    recording,
    recordings: recordingList(twilioClient),
    vault,
    captureMetrics: metrics.captures,
    othersPaused: metrics.otherRecordingsPaused,
    onSessionChanged: queueDelivery,
    lostCaptureGraceMs: opts.lostCaptureGraceMs,
  });
  const services: Services = {
    config,
    log,
    store,
    keys,
    metrics,
    flows,
    calls,
    vault,
    audit,
    events,
    twilio: twilioClient,
    recording,
    tokens,
    runner,
    auth,
    sessions,
    subjectHash,
    draining: false,
    processors,
    delivery,
    privacy,
    ...(recordingQueue ? { recordingErasures: recordingQueue } : {}),
    commands,
    rpc,
    bridges,
    live,
    replay,
    restCheck,
    metricsServer: new MetricsServer({
      metrics,
      host: config.metrics.host,
      port: metricsPort,
      required: config.metrics.port !== undefined,
      token: config.metrics.token,
      requestTimeoutMs: opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      connectionTimeoutMs: CONNECTION_TIMEOUT_MS,
      log,
    }),
  };

  const requestTimeout = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  // the router's own answers (frameworkErrors) run none of the app's hooks, helmet's included
  const routerAnswerHeaders = await fixedSecurityHeaders();
  const app = createHttp(config, log, requestTimeout, routerAnswerHeaders);
  await registerBeforeRoutes(app, services);

  await registerRoutes(app, services, { dropin, dialOffers, dropinEnded }, opts);
  // bridges and captures stop before the server closes: captures resume their recordings,
  // then the streams close without another REST call (run first from the WebSocket plugin's
  // close, app-http.ts, before any socket is closed: here it ends nothing more). The bus's channels are then left beside
  // the server's close and the agent socket's own leaving (agents/socket.ts), not before them: a
  // Redis that does not answer holds the close for one command bound (500 ms), not one after
  // another. The close's first step waits for it, before the store goes.
  await live.start();
  let liveStopped: Promise<void> = Promise.resolve();
  app.addHook('preClose', async () => {
    await live.drain();
    // awaited in the close, after the server's: a failure meanwhile is logged there, not left unhandled
    liveStopped = live.stop().catch((err: unknown) => log.error({ err: errFields(err) }, 'live calls not stopped: closing'));
  });

  await delivery.start();
  await erasureQueue.start();
  await recordingQueue?.start();
  // hang-up watches and result POSTs left in the store by a stopped instance are taken up here
  await dropin.start();
  const sweep = new CallSweep({
    store,
    keys,
    calls,
    vault,
    twilio: twilioClient,
    audit,
    events,
    metrics,
    log,
    instanceId: config.instanceId,
    everyMs: opts.sweepEveryMs,
    quietMs: opts.sweepQuietMs,
  });
  sweep.start();
  // an unverified REST configuration (Twilio unreachable at start) is tried again until it settles
  restCheck.start();
  app.addHook('onClose', async () => {
    await liveStopped;
    restCheck.stop();
    await sweep.stop();
    await dropin.close();
    await services.metricsServer.close();
    await delivery.stop();
    await erasureQueue.stop();
    await recordingQueue?.stop();
    // after everything that appends, before the store goes: held entries get one last try
    await audit.close();
    if (!opts.store) await store.close();
  });
  reportBuilt(config, { flows, processors, auditKeys, store }, log);
  return app as unknown as FastifyInstance;
}
