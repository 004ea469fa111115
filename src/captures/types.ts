/**
 * What a mid-call capture is, as the store, the agent API and the instances that route capture
 * commands see it. A record holds counts and masked views only, never a digit of the value.
 */
import { z } from 'zod';
import { FIELD_KINDS, type CardBrand, type FieldKind } from '../fields';

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
}

/** the body of `POST /v1/calls/:callSid/captures` and of the `capture.start` client message */
export const captureRequestSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a field name: a letter, then letters, digits, _ or -'),
    kind: z.enum(FIELD_KINDS as unknown as [FieldKind, ...FieldKind[]]),
    blanket: z.boolean().optional(),
    minLength: z.number().int().min(1).max(32).optional(),
    maxLength: z.number().int().min(1).max(32).optional(),
  })
  .strict();

export type CaptureRequest = z.infer<typeof captureRequestSchema>;

/**
 * A capture's answer across instances, parsed like any other input. A refusal maps to one HTTP
 * status in the agent API (409 running / not bridged, 503 pause failed, 504 unreachable).
 */
export const startResultSchema = z.union([
  z.object({ ok: z.literal(true), captureId: z.string().min(1).max(64) }),
  z.object({ ok: z.literal(false), error: z.enum(['capture-running', 'recording-pause-failed', 'not-bridged', 'call-not-found', 'instance-unreachable']) }),
]);
export const cancelResultSchema = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: z.enum(['capture-not-found', 'instance-unreachable']) }),
]);
export type StartRefusal = Extract<z.infer<typeof startResultSchema>, { ok: false }>['error'];
export type StartResult = z.infer<typeof startResultSchema>;
export type CancelResult = z.infer<typeof cancelResultSchema>;

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
