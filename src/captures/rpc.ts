/**
 * Request/response between instances over the store's pub/sub: a capture asked for on any
 * instance runs on the instance holding the call's bridge, and its answer (started, refused,
 * cancelled) comes back so the agent API can answer 201 / 409 / 503. Each instance listens on
 * its own request channel and its own reply channel; a correlation id pairs them, and a request
 * nobody answers in time is refused as 'instance-unreachable'.
 *
 * Requests and replies are signed (store/signed-messages.ts); an unsigned, forged, moved or
 * replayed one is dropped, so nobody who merely reaches Redis can start or cancel a capture
 * or answer for an instance.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Keys, MessageSigner, Store } from '../store';
import { captureRequestSchema, type CancelResult, type StartResult } from './types';
import { errFields } from '../log';

/** the pause alone may take Twilio up to PAUSE_ACK_TIMEOUT_MS (3 s); leave room for the store */
export const RPC_TIMEOUT_MS = 6_000;

const requestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('start'), id: z.string(), replyTo: z.string(), callSid: z.string(), captureId: z.string(), request: captureRequestSchema }),
  z.object({ op: z.literal('cancel'), id: z.string(), replyTo: z.string(), callSid: z.string(), captureId: z.string() }),
]);
type RpcRequest = z.infer<typeof requestSchema>;
type RpcBody = RpcRequest extends infer R ? (R extends RpcRequest ? Omit<R, 'id' | 'replyTo'> : never) : never;

const replySchema = z.object({ id: z.string(), result: z.record(z.unknown()) });

export interface RpcHandler {
  start(callSid: string, request: RpcRequest & { op: 'start' }): Promise<StartResult>;
  cancel(callSid: string, captureId: string): Promise<CancelResult>;
}

export class CaptureRpc {
  private readonly pending = new Map<string, { resolve: (r: Record<string, unknown>) => void; timer: NodeJS.Timeout }>();
  private unsubscribe: Array<() => Promise<void>> = [];

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly instanceId: string,
    private readonly log: Logger,
    private readonly signer: MessageSigner,
    private readonly timeoutMs = RPC_TIMEOUT_MS,
  ) {}

  private requests(instanceId: string) {
    return this.keys.channel(`capture-rpc:${instanceId}`);
  }
  private replies(instanceId: string) {
    return this.keys.channel(`capture-reply:${instanceId}`);
  }

  async listen(handler: RpcHandler): Promise<void> {
    const requests = this.requests(this.instanceId);
    const replies = this.replies(this.instanceId);
    this.unsubscribe.push(
      await this.store.subscribe(requests, (raw) => void this.serve(this.open(requests, raw), handler)),
      await this.store.subscribe(replies, (raw) => this.onReply(this.open(replies, raw))),
    );
  }

  async close(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) await u().catch(() => undefined);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, error: 'instance-unreachable' });
      this.pending.delete(id);
    }
  }

  async call(instanceId: string, body: RpcBody): Promise<Record<string, unknown>> {
    const id = randomBytes(12).toString('base64url');
    const answer = new Promise<Record<string, unknown>>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ ok: false, error: 'instance-unreachable' });
      }, this.timeoutMs);
      this.pending.set(id, { resolve, timer });
    });
    const channel = this.requests(instanceId);
    await this.store.publish(channel, this.signer.sign(channel, { ...body, id, replyTo: this.instanceId }));
    return answer;
  }

  /** the payload of a message signed by an instance for `channel`, else undefined (dropped) */
  private open(channel: string, raw: string): unknown {
    const v = this.signer.verify(channel, raw);
    if (v.ok) return v.payload;
    this.log.warn({ reason: v.reason }, 'capture message refused: not signed by an instance');
    return undefined;
  }

  private onReply(payload: unknown): void {
    if (payload === undefined) return;
    const r = replySchema.safeParse(payload);
    if (!r.success) return;
    const parsed = r.data;
    const p = this.pending.get(parsed.id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(parsed.id);
    p.resolve(parsed.result);
  }

  private async serve(payload: unknown, handler: RpcHandler): Promise<void> {
    if (payload === undefined) return;
    const parsed = requestSchema.safeParse(payload);
    if (!parsed.success) {
      this.log.warn('malformed capture command dropped');
      return;
    }
    const req: RpcRequest = parsed.data;
    let result: StartResult | CancelResult;
    try {
      result = req.op === 'start' ? await handler.start(req.callSid, req) : await handler.cancel(req.callSid, req.captureId);
    } catch (e) {
      this.log.error({ callSid: req.callSid, err: errFields(e) }, 'capture command failed');
      result = { ok: false, error: 'instance-unreachable' };
    }
    const replies = this.replies(req.replyTo);
    await this.store.publish(replies, this.signer.sign(replies, { id: req.id, result }));
  }
}
