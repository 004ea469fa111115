/**
 * What a mid-call capture is, as the store, the agent API and the instances that route capture
 * commands see it. A record holds counts and masked views only, never a digit of the value.
 */
import type { z } from 'zod';
import type { captureRequest, cancelResult, startResult, WIRE_CARD_BRANDS, WIRE_FIELD_KINDS } from '../bus/messages';
import type { CardBrand, FieldKind } from '../fields';
import type { RecordingRef } from '../recording/stretch';

export type CaptureStatus = 'capturing' | 'completed' | 'failed' | 'cancelled';

export interface CaptureRecord {
  captureId: string;
  callSid: string;
  name: string;
  kind: FieldKind;
  blanket: boolean;
  status: CaptureStatus;
  entered: number;
  /** '*' per digit while capturing; the masked form (CONTRACT §5) once completed */
  masked: string;
  valid?: boolean;
  brand?: CardBrand;
  last4?: string;
  reason?: string;
  startedAt: number;
  endedAt?: number;
  /**
   * The recordings the capture paused (Twilio's SIDs: the agent call's own and any other in
   * progress on the bridge's calls), resumed as it ends, on whichever instance ends it (lost.ts).
   * Never shown to agents (captureView).
   */
  recordings?: RecordingRef[];
  /**
   * Who started it (AuditTrail.actor), when a person did: named on the entries of the recordings
   * it pauses and resumes, on whichever instance ends it (lost.ts). Never shown to agents (captureView).
   */
  actor?: string;
}

/**
 * The capture request and a capture's answers cross instances, so their schemas are the wire
 * schemas of bus/messages.ts; the field kinds and card brands the bus knows must be the ones
 * fields/ knows (a compile error here otherwise).
 */
export { captureRequest as captureRequestSchema, startResult as startResultSchema, cancelResult as cancelResultSchema } from '../bus/messages';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const kindsAgree: Same<FieldKind, (typeof WIRE_FIELD_KINDS)[number]> = true;
const brandsAgree: Same<CardBrand, (typeof WIRE_CARD_BRANDS)[number]> = true;
void kindsAgree;
void brandsAgree;

export type CaptureRequest = z.infer<typeof captureRequest>;
/**
 * A capture's answer across instances, parsed like any other input. A refusal maps to one HTTP
 * status in the agent API (409 running / not bridged, 503 pause failed, 504 unreachable).
 */
export type StartRefusal = Extract<z.infer<typeof startResult>, { ok: false }>['error'];
export type StartResult = z.infer<typeof startResult>;
export type CancelResult = z.infer<typeof cancelResult>;

/** the agent-facing view of a capture (GET /v1/calls/:callSid/captures/:captureId) */
export function captureView(r: CaptureRecord) {
  return {
    captureId: r.captureId,
    callSid: r.callSid,
    name: r.name,
    kind: r.kind,
    status: r.status,
    entered: r.entered,
    masked: r.masked,
    ...(r.valid !== undefined ? { valid: r.valid } : {}),
    ...(r.brand ? { brand: r.brand } : {}),
    ...(r.last4 ? { last4: r.last4 } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
  };
}
