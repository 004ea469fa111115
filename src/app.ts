/**
 * buildApp(config) assembles the whole service from its parts; server.ts only does process
 * things (listen, signals). Tests build the real app with a private store prefix and read its
 * real log stream.
 */
import formbody from '@fastify/formbody';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createHash, createSecretKey, hkdfSync } from 'node:crypto';
import { TokenAuth } from './auth/tokens';
import { agentDocs, agents, auditRoutes, privacyRoutes } from './agents';
import { AuditKey, AuditKeyRing, AuditTrail, canonicalJson } from './audit';
import { CallRepository } from './calls/repository';
import { CallSweep } from './calls/sweep';
import type { CallSession } from './calls/session';
import { DEFAULT_METRICS_PORT, originsWithPath, plainTextOrigins, weakSecrets, type Config } from './config';
import { ConfigError, isTonewallError, RequestErrors } from './errors';
import { CommandBus, EventBus, InstanceRpc, type OnDropped } from './bus';
import { loadFlows, type FlowCheck } from './flows/load';
import { INLINE_TWIML_MAX_CHARS, largestDocument, longestInlineTwiml, TWIML_DOCUMENT_MAX_BYTES } from './twilio/document-size';
import { FlowRunner } from './twilio/runner';
import { createLogger, errFields, redactUrl } from './log';
import { LiveCalls } from './live-calls';
import { BridgeRegistry, HOLD_TIMEOUT_MS } from './media';
import { StreamTokens } from './media/tokens';
import { createMetrics } from './metrics';
import { opsRoutes } from './ops/routes';
import { bearerChallenge } from './ops/bearer';
import { notFoundRateLimit, registerRateLimit } from './ops/rate-limit';
import { registerAccessLog } from './ops/access-log';
import { fixedSecurityHeaders, registerSecurityHeaders } from './security-headers';
import { registerJsonBody } from './ops/json-body';
import { isWildcardHost, MetricsServer } from './ops/metrics-server';
import { RecordingController } from './recording/controller';
import { BridgeRecordingGuard } from './recording/bridge-guard';
import { recordingList } from './recording/stretch';
import { createStore, makeKeys, MessageSigner } from './store';
import { FirstWebhook } from './twilio/first-webhook';
import { WebhookWrite } from './twilio/webhook-write';
import { ReplayGuard } from './twilio/replay';
import { createTwilioClient } from './twilio/rest';
import { RestCheck } from './twilio/rest-check';
import { mediaRoutes } from './twilio/media-routes';
import { twilioRoutes } from './twilio/routes';
import { BridgeLost } from './twilio/bridge-lost';
import { DialOffers } from './twilio/dial-offer';
import { bridgeTwiml } from './twilio/twiml';
import { parseKeyRing, Vault } from './vault';
import { ErasureQueue, loadProcessors, ProcessorDelivery, weakProcessorSecrets } from './processors';
import { PrivacyService, subjectHash as hashSubject } from './privacy';
import { DropinService } from './dropin/service';
import type { BuildOptions, Services } from './services';

export type { BuildOptions, Services } from './services';

/** Twilio sends 20 ms frames of a few hundred bytes; anything near this is dropped unread, but
 * must not close the stream (ws closes on maxPayload), so the socket limit sits well above the
 * 1 MB message the contract says must be survived. */
export const WS_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/**
 * Slow clients (issue 11: a trickled body held a connection 130 s). Webhook and API bodies are
 * at most 64 KB, so a whole request gets 15 s; Node checks every second, so a request ends
 * within about 16 s. An idle connection closes after 60 s. Upgraded sockets (media, agents)
 * are out of both: ws clears the socket timeout on upgrade. The metrics listener (ops/metrics-server.ts)
 * takes the same bounds: without METRICS_TOKEN it answers anyone who reaches it.
 */
export const REQUEST_TIMEOUT_MS = 15_000;
/** 12 months, as PCI DSS 10.5.1 keeps audit history: a shorter AUDIT_RETENTION_DAYS is warned of */
const PCI_AUDIT_RETENTION_DAYS = 365;
export const CONNECTION_TIMEOUT_MS = 60_000;
const CONNECTIONS_CHECK_INTERVAL_MS = 1_000;
/** a path parameter's most characters: a 256-character subject, every character four UTF-8 bytes, each escaped (%XX) */
const MAX_PATH_PARAM_LENGTH = 256 * 4 * 3;

function derive(secret: string | Buffer, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), label, 32));
}

/** a flow whose TwiML Twilio would refuse (over 64 kB: error 11750) is refused as it is loaded */
function twimlFits(config: Config): FlowCheck {
  return (flow) => {
    const largest = largestDocument(flow, config);
    if (largest.bytes <= TWIML_DOCUMENT_MAX_BYTES) return undefined;
    return {
      where: largest.where,
      reason: `a TwiML document asked here would be ${largest.bytes} bytes, over the ${TWIML_DOCUMENT_MAX_BYTES} Twilio takes (error 11750): shorten its prompts, or split the words said together before it with a question`,
    };
  };
}

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const log = createLogger(config.logLevel, opts.logStream);
  const flows = loadFlows(config.flowsDir, twimlFits(config));
  // a bridge's agent call is created with its TwiML inline, which Twilio takes up to 4000 characters (32018)
  const inline = longestInlineTwiml(config);
  if (flows.all().some((f) => f.handoff.mode === 'bridge') && inline > INLINE_TWIML_MAX_CHARS)
    throw new ConfigError(
      'PUBLIC_URL',
      `PUBLIC_URL and MEDIA_PUBLIC_URL are too long for a bridge: the agent call's TwiML would be ${inline} characters, over the ${INLINE_TWIML_MAX_CHARS} Twilio takes (error 32018)`,
    );
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
  const calls = new CallRepository(store, keys, { vaultTtlSeconds: config.vaultTtlSeconds });
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
  // the default serves the demo and a local test; behind Twilio every webhook's signature is checked against it and fails (403)
  if (config.publicUrlDefaulted)
    log.warn(
      { variable: 'PUBLIC_URL', publicUrl: config.publicUrl },
      'PUBLIC_URL unset: webhook signatures are checked against this local origin, so every request from Twilio will be refused (403); set PUBLIC_URL to the https origin Twilio calls',
    );
  for (const variable of originsWithPath(config))
    log.warn(
      { variable },
      `${variable} has a path: the service serves /twilio/… and /media/… at the root, so the proxy in front of it must strip that path, or nothing Twilio requests is served`,
    );
  for (const variable of plainTextOrigins(config))
    log.warn(
      { variable },
      `${variable} is plain http to another host: callers' keys would cross the network unencrypted, and Twilio refuses <Gather> over http on a PCI Mode account (13337)`,
    );
  // Twilio dials media streams over TLS only (error 31922): a bridge handoff to a ws:// origin never connects
  const bridgeFlows = flows
    .all()
    .filter((f) => f.handoff.mode === 'bridge')
    .map((f) => f.id);
  if (bridgeFlows.length > 0 && !['https:', 'wss:'].includes(new URL(config.mediaPublicUrl).protocol))
    log.warn(
      { variable: 'MEDIA_PUBLIC_URL', flows: bridgeFlows },
      "MEDIA_PUBLIC_URL (or PUBLIC_URL) is not https: Twilio opens media streams over wss only (31922), so these flows' bridge handoffs and agent captures will not connect",
    );
  // PCI DSS 10.5.1 keeps audit history 12 months: a shorter retention is taken (a deployment may
  // answer to other rules) but said, as trails then expire before an assessor may ask for them
  if (config.auditRetentionDays < PCI_AUDIT_RETENTION_DAYS)
    log.warn(
      { variable: 'AUDIT_RETENTION_DAYS', days: config.auditRetentionDays },
      `AUDIT_RETENTION_DAYS is under ${PCI_AUDIT_RETENTION_DAYS}: audit trails expire before the 12 months PCI DSS 10.5.1 keeps them; export them to a store that keeps them longer`,
    );
  const metricsPort = config.metrics.port ?? opts.defaultMetricsPort ?? DEFAULT_METRICS_PORT;
  // the default stays (an operator's Prometheus may scrape it there), but without METRICS_TOKEN it is said: the listener then checks no token
  if (isWildcardHost(config.metrics.host) && config.metrics.token === undefined)
    log.warn(
      { variable: 'METRICS_HOST', host: config.metrics.host, port: metricsPort },
      'metrics listener on every interface with no token: /metrics on METRICS_PORT answers anyone who reaches it; set METRICS_TOKEN (a bearer token the scraper sends), or METRICS_HOST to a loopback or internal address, or firewall the port',
    );
  // a drop-in capture needs both: with one alone every capture is refused (an apology and a hangup), found only on a caller's call
  const dropinMissing =
    config.capture.returnUrls.length === 0 ? 'CAPTURE_RETURN_URLS' : config.capture.resultSecret === undefined ? 'CAPTURE_RESULT_SECRET' : undefined;
  if (dropinMissing && (config.capture.returnUrls.length > 0 || config.capture.resultSecret !== undefined))
    log.warn(
      { variable: dropinMissing },
      `${dropinMissing} unset while the other drop-in setting is set: every drop-in capture (/twilio/capture/:flowId) is refused with an apology and a hangup; set both`,
    );
  // the caller index outlives JWT secret rotations only with a key of its own (SUBJECT_KEY)
  if (!config.subjectKey)
    log.warn(
      { variable: 'SUBJECT_KEY' },
      'SUBJECT_KEY unset: caller index keyed from AGENT_JWT_SECRET; rotating that secret orphans stored callers from erasure',
    );
  const subjectKey = derive(config.subjectKey ?? config.agentJwtSecret, 'tonewall subject index v1');
  const subjectKeyObject = createSecretKey(subjectKey);
  const subjectHash = (subject: string) => hashSubject(subjectKeyObject, subject);
  const processors = loadProcessors(config.processorsFile, config.secrets);
  // any text is taken, as the contract takes it (CONTRACT §1, §6); a short one is said, by name only
  for (const variable of weakSecrets(config))
    log.warn(
      { variable },
      'secret shorter than 32 characters: a short secret is weak (guessable offline from one signed request or token); use 32 or more random characters',
    );
  for (const { processor, variable } of weakProcessorSecrets(processors))
    log.warn(
      { variable, processor },
      "a processor's secretEnv is shorter than 32 characters: a short HMAC key is weak (guessable offline from one signed request); use 32 or more random characters",
    );
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
  // erasures a processor has not acknowledged yet, kept (a body naming the caller sealed with the vault's keys) and retried by any instance
  const erasureQueue = new ErasureQueue({
    store,
    keys,
    vaultKeys: keyRing,
    processors,
    log,
    backoff: opts.erasureRetryBackoff,
    pollMs: opts.erasurePollMs,
    onOutcome: (processor, status) => metrics.erasureForwards.inc({ processor, outcome: status }),
  });
  const privacy = new PrivacyService({
    calls,
    vault,
    audit,
    store,
    keys,
    processors,
    replay,
    subjectSecret: subjectKeyObject,
    log,
    erasureBackoff: opts.erasureBackoff,
    erasureQueue,
    // processor: a name from PROCESSORS_FILE, a fixed vocabulary; only what was sent (or tried) is counted
    onForwarded: (processor, status) => {
      if (status === 'forwarded' || status === 'failed') metrics.erasureForwards.inc({ processor, outcome: status });
    },
    onLeft: leftActive,
    // a live call erased with no agent on it: ended by the service, its one call.ended (callSid and status, nothing of the caller)
    onEnded: (callSid) => events.publish({ type: 'call.ended', callSid, status: 'canceled' }),
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
  const auth = new TokenAuth(config.agentJwtSecret, config.jwt);
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
    subjectHash,
    draining: false,
    processors,
    delivery,
    privacy,
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
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    trustProxy: config.trustProxy,
    requestTimeout,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    http: { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_INTERVAL_MS, requestTimeout) },
    // a subject (`/v1/subjects/:phone`) may be any caller ID of up to 256 characters, each up to
    // four UTF-8 bytes percent-escaped: past Fastify's 100 it was answered 414 and never served
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    // Fastify's own answers to a path it cannot route (a malformed percent-escape, a parameter
    // past maxParamLength) quote the path, which may hold a caller's number or identity, and
    // skip every hook (the security headers): answered here in the catalogue's shape instead
    frameworkErrors: (err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
      reply.headers(routerAnswerHeaders);
      const status = err.statusCode ?? 400;
      if (status >= 500) return reply.code(500).send({ error: RequestErrors.internal.code, message: RequestErrors.internal().message });
      return reply.code(status).send({ error: RequestErrors.invalid.code, message: RequestErrors.invalid().message });
    },
  });
  app.decorate('services', services);
  // before every plugin: each route inherits it (an empty JSON body is no body, ops/json-body.ts)
  registerJsonBody(app);
  // Shutting down, every answer ends its connection. server.close() ends only the connections
  // idle at the moment it is called: a webhook answered after that (a Twilio callback in flight
  // when the media streams were closed) kept its keep-alive connection, and so the close itself,
  // open for the keep-alive timeout (72 s).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // callback-style: an async hook costs a promise on every request
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing || services.draining) reply.header('connection', 'close');
    done(null, payload);
  });
  await registerSecurityHeaders(app);
  registerAccessLog(app, (p) => audit.actor(p));
  await app.register(formbody);
  await app.register(websocket, {
    options: { maxPayload: WS_MAX_PAYLOAD_BYTES },
    // at close every socket is told why (1001, going away: RFC 6455 §7.4.1), so a panel knows to
    // reconnect to another instance; the plugin's own close sends no code at all (1005)
    preClose(done) {
      for (const client of this.websocketServer.clients) client.close(1001, 'shutting down');
      this.websocketServer.close(() => undefined);
      done();
    },
  });
  // OpenAPI at /docs: before every route, so swagger sees the agent API registered below
  await app.register(agentDocs);

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    if (isTonewallError(err)) {
      if (err.statusCode >= 500) req.log.error({ err: errFields(err) }, 'request failed');
      // RFC 6750 §3: a 401 names the scheme it wants, and says a token that was sent did not hold
      // (a route that named its own realm, /metrics's, keeps it)
      if (err.statusCode === 401 && !reply.hasHeader('www-authenticate'))
        reply.header('www-authenticate', bearerChallenge(req.headers.authorization !== undefined));
      // the contract's name for an error where it has one (CONTRACT §5), else the catalogue's code
      return reply.code(err.statusCode).send({ error: err.wireCode ?? err.code, message: err.message });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return reply.code(status).send({ error: RequestErrors.invalid.code, message: err.message });
    req.log.error({ err: errFields(err) }, 'unexpected error');
    return reply.code(500).send({ error: RequestErrors.internal.code, message: RequestErrors.internal().message });
  });

  await app.register(
    opsRoutes({ store, flows, metrics, isDraining: () => services.draining, twilioRest: () => restCheck.state, metricsToken: config.metrics.token }),
  );
  const firstWebhook = new FirstWebhook({ store, runner, calls, audit, replay });
  const webhookWrite = new WebhookWrite({ store, calls, audit, replay, vault, tokens, dropin });
  await app.register(
    twilioRoutes({
      config,
      flows,
      runner,
      calls,
      replay,
      firstWebhook,
      webhookWrite,
      metrics,
      audit,
      events,
      log,
      dropin,
      recording,
      now: opts.now,
      onCallEnded: dropinEnded,
      bridgeLost: new BridgeLost({
        calls,
        audit,
        tokens,
        flows,
        metrics,
        instanceId: config.instanceId,
        publicUrl: config.publicUrl,
        onTakenUp: (callSid) => live.settleLostCapture(callSid),
        draining: () => services.draining,
      }),
      dialOffers,
      draining: () => services.draining,
    }),
  );
  await registerRateLimit(app, { store, keyPrefix: keys.prefix, maxPerMinute: config.rateLimitMax });
  // Fastify's own 404 logged `Route <method>:<url> not found` with the URL as sent, query and all
  // (a Voice URL set to GET carries the caller's number there) and repeated it in the answer.
  // A request for no route counts against its client's rate like an agent route's: a prober of paths is limited too.
  app.setNotFoundHandler({ preHandler: notFoundRateLimit(app) }, (req) => {
    req.log.info({ ip: req.ip, method: req.method, url: redactUrl(req.url) }, 'route not found');
    throw RequestErrors.notFound();
  });
  await app.register(
    agents({
      auth,
      store,
      keys,
      calls,
      events,
      log,
      audit,
      captures: live.captures,
      payments: live.payments,
      sendCommand: (instanceId, command) => commands.send(instanceId, command),
      dialCaller: (callSid, endpoint, log) => dialOffers.dialCaller(callSid, endpoint, log),
      metrics,
      idleTimeoutSeconds: config.agentIdleTimeoutSeconds,
      maxPendingSockets: opts.maxPendingAgentSockets,
      socketLimits: { ...(config.agentSocketsPerAgent ? { maxPerAgent: config.agentSocketsPerAgent } : {}), ...opts.agentSocketLimits },
    }),
  );
  await app.register(auditRoutes({ auth, calls, audit, retentionDays: config.auditRetentionDays, now: opts.now }));
  await app.register(privacyRoutes({ auth, privacy }));
  await app.register(mediaRoutes({ config, tokens, bridges, metrics, log, idleTimeoutMs: opts.mediaIdleTimeoutMs, isDraining: () => services.draining }));
  // bridges and captures stop before the server closes: captures resume their recordings,
  // then the streams close without another REST call
  await live.start();
  app.addHook('preClose', () => live.stop());

  await delivery.start();
  await erasureQueue.start();
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
    restCheck.stop();
    await sweep.stop();
    await dropin.close();
    await services.metricsServer.close();
    await delivery.stop();
    await erasureQueue.stop();
    // after everything that appends, before the store goes: held entries get one last try
    await audit.close();
    if (!opts.store) await store.close();
  });
  // what an operator checks first, and the configuration this instance runs under, for an
  // assessor (PCI DSS 10.2.1.2, 10.2.1.6): which store, the origins Twilio is given (PUBLIC_URL
  // holds no credentials, config.ts), which flows (each by a digest of its content, so a changed
  // flow shows; ids, not numbers, which log.ts would redact), processors and audit keys (by kid,
  // the name each entry carries) were loaded, and how long trails are kept
  log.info(
    {
      flows: flows.size,
      flowIds: flows.all().map((f) => f.id),
      flowDigests: Object.fromEntries(flows.all().map((f) => [f.id, createHash('sha256').update(canonicalJson(f)).digest('hex').slice(0, 16)])),
      processors: processors.map((p) => p.name),
      auditKids: auditKeys.kids,
      auditKey: config.auditKeys ? 'configured' : 'derived',
      auditRetentionDays: config.auditRetentionDays,
      store: store.kind,
      publicUrl: config.publicUrl,
      mediaPublicUrl: config.mediaPublicUrl,
      instanceId: config.instanceId,
      instanceMessageKey: config.instanceMessageKeys ? 'configured' : 'derived',
    },
    'tonewall built',
  );
  // every call would hear "not in service" and every drop-in capture be refused: said at start; the service starts, not ready (ops/routes.ts)
  if (flows.size === 0)
    log.warn({ variable: 'FLOWS_DIR', flowsDir: config.flowsDir }, 'no flow loaded from FLOWS_DIR: every call will hear that the number is not in service');
  return app as unknown as FastifyInstance;
}
