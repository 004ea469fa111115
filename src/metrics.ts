/**
 * Prometheus metrics, one registry per app (tests build several apps in one process). Labels are
 * fixed vocabularies (route, outcome, reason): never a number, a SID or a value.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The webhook latency histogram's bounds, in seconds. Past 5 s they follow Twilio's own limit: it
 * waits 15 s for a webhook's answer, then gives up (11200) and plays its error to the caller, so
 * an answer over 10 s is one about to be lost (deploy/prometheus: TonewallWebhookNearTimeout).
 */
export const WEBHOOK_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tonewall_process_' });
  /** how the store is asked at a scrape (app.ts sets it: the store's ping); unset, the gauge says nothing */
  let storeProbe: (() => Promise<boolean>) | undefined;
  const m = {
    registry,
    /** set the store's probe, read by tonewall_store_up at each scrape */
    probeStore(probe: () => Promise<boolean>): void {
      storeProbe = probe;
    },
    storeUp: new Gauge({
      name: 'tonewall_store_up',
      help: "Whether the store answered this instance's ping at the scrape (1) or not (0): what /readyz checks, seen with no calls running",
      registers: [registry],
      async collect() {
        if (storeProbe) this.set((await storeProbe()) ? 1 : 0);
      },
    }),
    webhookLatency: new Histogram({
      name: 'tonewall_webhook_duration_seconds',
      help: 'Time to answer a Twilio webhook',
      labelNames: ['route', 'outcome'] as const,
      buckets: WEBHOOK_SECONDS_BUCKETS,
      registers: [registry],
    }),
    signaturesRejected: new Counter({
      name: 'tonewall_signatures_rejected_total',
      help: 'Twilio requests refused for a missing or wrong signature',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    replays: new Counter({ name: 'tonewall_webhook_replays_total', help: 'Webhooks answered from the replay cache', registers: [registry] }),
    seenRequestsDropped: new Counter({
      name: 'tonewall_seen_requests_dropped_total',
      help: 'Received webhooks forgotten before their time by the in-process memory of them (twilio/seen-requests.ts), full: a copy resent here is not told from the first',
      registers: [registry],
    }),
    safeFallbacks: new Counter({
      name: 'tonewall_safe_fallbacks_total',
      help: 'Webhooks whose step could not be served: answered with the safe apology TwiML (a drop-in capture: returned to its app with internal-error)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    callsStarted: new Counter({ name: 'tonewall_calls_started_total', help: 'Calls that reached a flow', registers: [registry] }),
    callsActive: new Gauge({
      name: 'tonewall_calls_active',
      // up where a call starts, down wherever it ends (its status callback, its bridge, the sweep):
      // one instance's value may go below zero, the deployment's sum is the calls in progress
      help: 'Calls in progress: up on the instance that took the call, down on the one that saw it end; sum over instances',
      registers: [registry],
    }),
    callsEnded: new Counter({
      name: 'tonewall_calls_ended_total',
      help: "Calls ended, once each, by Twilio's final status",
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    callsSwept: new Counter({
      name: 'tonewall_calls_swept_total',
      help: "Calls ended by the sweep: over on Twilio, and no status callback said so (is the number's status callback set to /twilio/status?)",
      registers: [registry],
    }),
    fieldsCollected: new Counter({
      name: 'tonewall_fields_total',
      help: 'IVR fields by outcome',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
    recordingPauses: new Counter({
      name: 'tonewall_recording_pauses_total',
      help: 'Recording pause requests by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    recordingUpdateSeconds: new Histogram({
      name: 'tonewall_recording_update_seconds',
      help: 'Time from asking Twilio to pause or resume a recording to its answer (or the ack timeout, 3 s): the wait before a sensitive prompt',
      labelNames: ['action', 'outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5],
      registers: [registry],
    }),
    auditTrailsBroken: new Counter({
      name: 'tonewall_audit_trails_broken_total',
      help: "Call audit trails a verification (the audit route, the export) found broken, by the first bad link's reason: unreadable, sequence, link, unknown-key, mac (tampering, or a key dropped from AUDIT_KEY's ring too soon), missing (a trail the export's day index names, deleted from the store)",
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    auditAppendsFailed: new Counter({
      name: 'tonewall_audit_appends_failed_total',
      help: 'Audit entries not stored, by reason: refused (could carry personal data, or malformed: a defect), not-written (the store failed the write and its retries were given up: an outage of minutes, too many entries held, the instance stopped; or the trail is unreadable). The action they record went on: the trail has a gap',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    auditAppendsHeld: new Gauge({
      name: 'tonewall_audit_appends_held',
      help: "Audit entries whose append the store failed, held in this instance's memory and retried in the background (audit/held.ts): written later in their call's order, or counted not-written when given up",
      registers: [registry],
    }),
    auditAppendsWrittenLate: new Counter({
      name: 'tonewall_audit_appends_written_late_total',
      help: 'Audit entries written by a retry after the store failed their append (a store blip the retries bridged: no gap in the trail)',
      registers: [registry],
    }),
    recordingPauseFailures: new Counter({
      name: 'tonewall_recording_pause_failures_total',
      help: 'Recording pauses Twilio did not acknowledge',
      registers: [registry],
    }),
    otherRecordingsPaused: new Counter({
      name: 'tonewall_other_recordings_paused_total',
      help: "Recordings another application ran on a call (found in Twilio's list of the call's recordings), paused for a sensitive stretch (ivr), a capture (capture) or a whole bridge (bridge: at the handoff, or at a key during it)",
      labelNames: ['where'] as const,
      registers: [registry],
    }),
    dialHandoffs: new Counter({
      name: 'tonewall_dial_handoffs_total',
      help: "Dial handoffs ended, by Twilio's DialCallStatus: busy, no-answer, failed and canceled are callers who reached no agent and heard the apology",
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    recordingResumeFailures: new Counter({
      name: 'tonewall_recording_resume_failures_total',
      help: 'Recording resumes Twilio did not acknowledge: the recording is left paused, the rest of the call may go unrecorded',
      registers: [registry],
    }),
    streams: new Gauge({ name: 'tonewall_streams_active', help: 'Media streams open on this instance', labelNames: ['leg'] as const, registers: [registry] }),
    streamsTotal: new Counter({ name: 'tonewall_streams_total', help: 'Media streams accepted', labelNames: ['leg'] as const, registers: [registry] }),
    streamsRefused: new Counter({
      name: 'tonewall_streams_refused_total',
      help: 'Media stream handshakes refused',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    framesIn: new Counter({ name: 'tonewall_frames_in_total', help: 'Media frames received', labelNames: ['leg'] as const, registers: [registry] }),
    framesOut: new Counter({ name: 'tonewall_frames_out_total', help: 'Media frames sent', labelNames: ['leg'] as const, registers: [registry] }),
    framesDropped: new Counter({
      name: 'tonewall_frames_dropped_total',
      help: 'Media messages dropped',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    tonesMasked: new Counter({ name: 'tonewall_tones_masked_total', help: 'DTMF tones replaced by the flat tone', registers: [registry] }),
    dtmfEvents: new Counter({ name: 'tonewall_dtmf_events_total', help: 'Twilio dtmf events received', registers: [registry] }),
    bridgeSetup: new Histogram({
      name: 'tonewall_bridge_setup_seconds',
      help: 'From the agent call request to both legs relaying',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    bridgesResumed: new Counter({
      name: 'tonewall_bridges_resumed_total',
      help: 'Bridged calls whose caller stream was lost with its instance (drained, stopped or cut off) and taken up again by this one',
      registers: [registry],
    }),
    captures: new Counter({ name: 'tonewall_captures_total', help: 'Mid-call captures by outcome', labelNames: ['outcome'] as const, registers: [registry] }),
    processorDeliveries: new Counter({
      name: 'tonewall_processor_deliveries_total',
      help: "Deliveries of a call's captured values to a processor, ended: delivered, or failed (given up after its tries, refused for good, or its values gone)",
      labelNames: ['processor', 'outcome'] as const,
      registers: [registry],
    }),
    erasureForwards: new Counter({
      name: 'tonewall_erasure_forwards_total',
      help: "A subject's erasure forwarded to a processor's eraseUrl, by processor and outcome: forwarded, or failed (given up after its tries: the processor was not told)",
      labelNames: ['processor', 'outcome'] as const,
      registers: [registry],
    }),
    recordingErasures: new Counter({
      name: 'tonewall_recording_erasures_total',
      help: "Tries to delete an erased caller's recording at Twilio (ERASE_RECORDINGS), by outcome: deleted, already-gone, pending (Twilio did not take it yet: kept and tried again), failed (given up after a day of tries, or not kept for a retry: to delete by hand)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    agentSocketsClosed: new Counter({
      name: 'tonewall_agent_sockets_closed_total',
      help: 'Authenticated agent sockets the service closed for a limit: backpressure (the client stopped reading), rate-limit (it sent too fast)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    agentSocketsRefused: new Counter({
      name: 'tonewall_agent_sockets_refused_total',
      help: 'Agent sockets refused after their token verified: per-agent-limit (its sub already held AGENT_SOCKETS_PER_AGENT sockets on this instance)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    busDropped: new Counter({
      name: 'tonewall_bus_dropped_total',
      help: 'Messages between instances dropped on receipt: not signed by an instance, malformed, or unhandled',
      labelNames: ['bus', 'reason'] as const,
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
