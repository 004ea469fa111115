/**
 * The capture API every instance offers to the agent routes and sockets: a capture runs on the
 * instance holding the call's bridge (`session.instanceId`), locally when that is this one,
 * else by asking that instance over the bus (`InstanceRpc`, operations `capture.start` and
 * `capture.cancel`). Records are read from the store on any instance.
 */
import { isUnanswered, type InstanceRpc } from '../bus';
import type { CallSession } from '../calls/session';
import type { CaptureExecutor } from './executor';
import { newCaptureId } from './executor';
import type { CaptureRecords } from './records';
import type { CancelResult, CaptureRecord, CaptureRequest, StartResult } from './types';

export class CaptureService {
  constructor(private readonly d: { instanceId: string; executor: CaptureExecutor; rpc: InstanceRpc; records: CaptureRecords }) {}

  /** answers capture requests addressed to this instance (the rpc starts listening with the app) */
  serve(): void {
    this.d.rpc.serve('capture.start', (req) => this.d.executor.start(req.callSid, req.request, req.captureId, req.actor));
    this.d.rpc.serve('capture.cancel', (req) => this.d.executor.cancel(req.callSid, req.captureId, req.actor));
  }

  /** ends every capture this instance runs (shutdown): recordings are resumed */
  async close(): Promise<void> {
    await this.d.executor.close();
  }

  /** `actor`: who asked, as the audit trail names them (AuditTrail.actor); none for the service's own */
  async start(session: CallSession, request: CaptureRequest, actor?: string): Promise<StartResult> {
    if (session.state !== 'bridged' || !session.instanceId) return { ok: false, error: 'not-bridged' };
    const captureId = newCaptureId();
    if (session.instanceId === this.d.instanceId) return this.d.executor.start(session.callSid, request, captureId, actor);
    // whatever kept the other instance from answering (silence, a failure there, a bad reply), the agent hears one thing;
    // a store outage sending the request is thrown as before
    return this.d.rpc
      .request(session.instanceId, 'capture.start', { callSid: session.callSid, captureId, request, ...(actor ? { actor } : {}) })
      .catch((e: unknown): StartResult => {
        if (isUnanswered(e)) return { ok: false, error: 'instance-unreachable' };
        throw e;
      });
  }

  async cancel(session: CallSession, captureId: string, actor?: string): Promise<CancelResult> {
    if (!session.instanceId) return { ok: false, error: 'capture-not-found' };
    if (session.instanceId === this.d.instanceId) return this.d.executor.cancel(session.callSid, captureId, actor);
    return this.d.rpc
      .request(session.instanceId, 'capture.cancel', { callSid: session.callSid, captureId, ...(actor ? { actor } : {}) })
      .catch((e: unknown): CancelResult => {
        if (isUnanswered(e)) return { ok: false, error: 'instance-unreachable' };
        throw e;
      });
  }

  get(callSid: string, captureId: string): Promise<CaptureRecord | null> {
    return this.d.records.get(callSid, captureId);
  }
}
