/**
 * The composition root's privacy part (app.ts): subject access and erasure (GDPR, CONTRACT §7),
 * the erasure forwards a processor has not acknowledged yet, and with ERASE_RECORDINGS the
 * deletions of the caller's recordings Twilio did not take yet, each kept in the store and
 * retried by any instance.
 */
import type { KeyObject } from 'node:crypto';
import type { AuditTrail } from './audit';
import type { EventBus } from './bus';
import type { CallRepository } from './calls/repository';
import type { Config } from './config';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import { ErasureQueue, type ProcessorConfig } from './processors';
import { PrivacyService, RecordingErasureQueue, recordingRemover } from './privacy';
import type { BuildOptions } from './services';
import type { Keys, Store } from './store';
import type { TwilioClient } from './twilio/rest';
import type { ReplayGuard } from './twilio/replay';
import type { KeyRing, Vault } from './vault';

export interface PrivacyParts {
  config: Config;
  opts: BuildOptions;
  store: Store;
  keys: Keys;
  keyRing: KeyRing;
  processors: readonly ProcessorConfig[];
  calls: CallRepository;
  vault: Vault;
  audit: AuditTrail;
  replay: ReplayGuard;
  /** the caller index's keys: the first files new calls, each finds those it filed (app.ts) */
  subjectKeys: readonly KeyObject[];
  log: Logger;
  metrics: Metrics;
  twilioClient: TwilioClient;
  /** an erased call still in progress leaves the active calls */
  leftActive: () => void;
  events: EventBus;
}

export function buildPrivacy(d: PrivacyParts): { privacy: PrivacyService; erasureQueue: ErasureQueue; recordingQueue?: RecordingErasureQueue } {
  const { config, opts, store, keys, keyRing, processors, calls, vault, audit, replay, log, metrics, twilioClient, leftActive, events } = d;
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
  // ERASE_RECORDINGS: a recording Twilio does not delete yet (its call still up, or still processed) is kept and tried again by any instance
  const removeRecording = config.eraseRecordings ? recordingRemover(twilioClient) : undefined;
  const recordingQueue = removeRecording
    ? new RecordingErasureQueue({
        store,
        keys,
        vaultKeys: keyRing,
        accountSid: config.twilio.accountSid,
        remove: removeRecording,
        audit,
        log,
        backoff: opts.recordingErasureBackoff,
        windowMs: opts.recordingErasureWindowMs,
        pollMs: opts.recordingErasurePollMs,
        onOutcome: (outcome) => metrics.recordingErasures.inc({ outcome }),
      })
    : undefined;
  const privacy = new PrivacyService({
    calls,
    vault,
    audit,
    store,
    keys,
    processors,
    replay,
    subjectSecret: d.subjectKeys,
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
    // ERASE_RECORDINGS: the caller's recordings at Twilio go with the erasure; unset, the receipt names them and they stay
    ...(removeRecording ? { removeRecording, recordingQueue, onRecordingErasure: (outcome) => metrics.recordingErasures.inc({ outcome }) } : {}),
  });
  return { privacy, erasureQueue, ...(recordingQueue ? { recordingQueue } : {}) };
}
