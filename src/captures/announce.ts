/**
 * A capture's end, told to those who follow it: the captures metric by outcome, the call's audit
 * trail (masked: how many keys, never which, and not even that under a blanket) and the bus,
 * whose `capture.completed` / `capture.failed` the agents' panels show. A failed audit write is
 * logged: the end is still announced.
 */
import type { Logger } from 'pino';
import type { CallEvent } from '../bus';
import { errFields } from '../log';
import type { CaptureRecord, CaptureStatus } from './types';

export interface AnnounceDeps {
  audit: { append(callSid: string, entry: { type: string; [k: string]: string | number | boolean | undefined }): Promise<void> };
  events: { publish(event: CallEvent): Promise<void> };
  metrics: { inc(labels: { outcome: string }): void };
  log: Logger;
}

/** `actor`: who cancelled it (AuditTrail.actor), when a person did */
export async function announceEnd(d: AnnounceDeps, r: CaptureRecord, actor?: string): Promise<void> {
  const outcome: Record<CaptureStatus, string> = { capturing: 'failed', completed: 'completed', failed: 'failed', cancelled: 'cancelled' };
  d.metrics.inc({ outcome: r.status === 'failed' && r.valid === false ? 'invalid' : outcome[r.status] });
  await d.audit
    .append(r.callSid, {
      type: `capture.${r.status}`,
      captureId: r.captureId,
      kind: r.kind,
      ...(r.blanket ? {} : { entered: r.entered }),
      valid: r.valid,
      reason: r.reason,
      actor,
    })
    .catch((e: unknown) => d.log.error({ callSid: r.callSid, err: errFields(e) }, 'capture audit failed'));
  const base = { callSid: r.callSid, captureId: r.captureId, name: r.name, kind: r.kind, entered: r.entered, masked: r.masked };
  if (r.status === 'completed') {
    await d.events.publish({
      type: 'capture.completed',
      ...base,
      valid: true,
      ...(r.brand ? { brand: r.brand } : {}),
      ...(r.last4 ? { last4: r.last4 } : {}),
    });
  } else {
    await d.events.publish({ type: 'capture.failed', ...base, reason: r.reason ?? r.status, ...(r.valid !== undefined ? { valid: r.valid } : {}) });
  }
}
