/**
 * The capture API every instance offers to the agent routes and sockets: a capture runs on the
 * instance holding the call's bridge (`session.instanceId`), locally when that is this one,
 * else through `CaptureRpc`. Records are read from the store on any instance.
 */
import type { CallSession } from '../calls/session';
import type { CaptureExecutor } from './executor';
import { newCaptureId } from './executor';
import type { CaptureRecords } from './records';
import type { CaptureRpc } from './rpc';
import { cancelResultSchema, startResultSchema, type CancelResult, type CaptureRecord, type CaptureRequest, type StartResult } from './types';

export class CaptureService {
  constructor(
    private readonly d: { instanceId: string; executor: CaptureExecutor; rpc: CaptureRpc; records: CaptureRecords },
  ) {}

  /** starts listening for capture commands addressed to this instance */
  async listen(): Promise<void> {
    await this.d.rpc.listen({
      start: (callSid, req) => this.d.executor.start(callSid, req.request, req.captureId),
      cancel: (callSid, captureId) => this.d.executor.cancel(callSid, captureId),
    });
  }

  async close(): Promise<void> {
    await this.d.executor.close();
    await this.d.rpc.close();
  }

  async start(session: CallSession, request: CaptureRequest): Promise<StartResult> {
    if (session.state !== 'bridged' || !session.instanceId) return { ok: false, error: 'not-bridged' };
    const captureId = newCaptureId();
    if (session.instanceId === this.d.instanceId) return this.d.executor.start(session.callSid, request, captureId);
    const r = startResultSchema.safeParse(await this.d.rpc.call(session.instanceId, { op: 'start', callSid: session.callSid, captureId, request }));
    return r.success ? r.data : { ok: false, error: 'instance-unreachable' };
  }

  async cancel(session: CallSession, captureId: string): Promise<CancelResult> {
    if (!session.instanceId) return { ok: false, error: 'capture-not-found' };
    if (session.instanceId === this.d.instanceId) return this.d.executor.cancel(session.callSid, captureId);
    const r = cancelResultSchema.safeParse(await this.d.rpc.call(session.instanceId, { op: 'cancel', callSid: session.callSid, captureId }));
    return r.success ? r.data : { ok: false, error: 'instance-unreachable' };
  }

  get(callSid: string, captureId: string): Promise<CaptureRecord | null> {
    return this.d.records.get(callSid, captureId);
  }
}
