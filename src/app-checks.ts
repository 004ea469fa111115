/**
 * What buildApp (app.ts) checks and says of its configuration as it builds the service: flows
 * whose TwiML Twilio would refuse stop it; settings that work but weaken something, or leave a
 * feature off, are warned of by variable name (never a value); and once it is built, what an
 * operator and an assessor check first is logged.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, type AuditKeyRing } from './audit';
import { originsWithPath, plainTextOrigins, type Config } from './config';
import { weakSecrets } from './config-secrets';
import { ConfigError } from './errors';
import { loadFlows, type FlowCheck, type FlowRegistry } from './flows/load';
import type { Logger } from './log';
import { isWildcardHost } from './ops/metrics-server';
import { weakProcessorSecrets, type ProcessorConfig } from './processors';
import type { Store } from './store';
import { INLINE_TWIML_MAX_CHARS, largestDocument, longestInlineTwiml, TWIML_DOCUMENT_MAX_BYTES } from './twilio/document-size';

/** 12 months, as PCI DSS 10.5.1 keeps audit history: a shorter AUDIT_RETENTION_DAYS is warned of */
const PCI_AUDIT_RETENTION_DAYS = 365;

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

/** FLOWS_DIR's flows, each checked against what Twilio takes: one it would refuse stops the service */
export function loadCheckedFlows(config: Config): FlowRegistry {
  const flows = loadFlows(config.flowsDir, twimlFits(config));
  // a bridge's agent call is created with its TwiML inline, which Twilio takes up to 4000 characters (32018)
  const inline = longestInlineTwiml(config);
  if (flows.all().some((f) => f.handoff.mode === 'bridge') && inline > INLINE_TWIML_MAX_CHARS)
    throw new ConfigError(
      'PUBLIC_URL',
      `PUBLIC_URL and MEDIA_PUBLIC_URL are too long for a bridge: the agent call's TwiML would be ${inline} characters, over the ${INLINE_TWIML_MAX_CHARS} Twilio takes (error 32018)`,
    );
  return flows;
}

/** settings that work but weaken something or leave a feature off, said as the service is built (`metricsPort`: the one it will listen on) */
export function warnOfSettings(config: Config, flows: FlowRegistry, metricsPort: number, log: Logger): void {
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
  // the caller index outlives JWT secret rotations only with a key of its own (SUBJECT_KEY); with
  // ERASE_RECORDINGS it is kept AUDIT_RETENTION_DAYS, so a rotation would leave that many days of recordings unfound
  if (!config.subjectKeys)
    log.warn(
      { variable: 'SUBJECT_KEY', ...(config.eraseRecordings ? { eraseRecordings: true } : {}) },
      config.eraseRecordings
        ? 'SUBJECT_KEY unset: caller index keyed from AGENT_JWT_SECRET; rotating that secret orphans stored callers from erasure, and their recordings at Twilio from deletion'
        : 'SUBJECT_KEY unset: caller index keyed from AGENT_JWT_SECRET; rotating that secret orphans stored callers from erasure',
    );
}

/** secrets shorter than 32 characters: taken, as the contract takes any text (CONTRACT §1, §6), and said by name only */
export function warnOfWeakSecrets(config: Config, processors: readonly ProcessorConfig[], log: Logger): void {
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
}

/** what buildApp built, logged once it is */
export function reportBuilt(
  config: Config,
  built: { flows: FlowRegistry; processors: readonly ProcessorConfig[]; auditKeys: AuditKeyRing; store: Store },
  log: Logger,
): void {
  const { flows, processors, auditKeys, store } = built;
  // what an operator checks first, and the configuration this instance runs under, for an
  // assessor (PCI DSS 10.2.1.2, 10.2.1.6): which store, the origins Twilio is given (PUBLIC_URL
  // holds no credentials, config.ts), which flows (each by a digest of its content, so a changed
  // flow shows; ids, not numbers, which log.ts would redact), processors and audit keys (by kid,
  // the name each entry carries) were loaded, how long trails are kept, and how callers are found for erasure
  log.info(
    {
      flows: flows.size,
      flowIds: flows.all().map((f) => f.id),
      flowDigests: Object.fromEntries(flows.all().map((f) => [f.id, createHash('sha256').update(canonicalJson(f)).digest('hex').slice(0, 16)])),
      processors: processors.map((p) => p.name),
      auditKids: auditKeys.kids,
      auditKey: config.auditKeys ? 'configured' : 'derived',
      auditRetentionDays: config.auditRetentionDays,
      // how many keys the caller index is looked up under (a rotation under way shows as 2), or derived from AGENT_JWT_SECRET
      subjectKeys: config.subjectKeys ? config.subjectKeys.length : 'derived',
      eraseRecordings: config.eraseRecordings,
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
}
