/**
 * Asking another instance and waiting for its answer, over the store's pub/sub: a capture asked
 * for on any instance runs on the instance holding the call's bridge, and its answer (started,
 * refused, cancelled) comes back so the agent API can answer 201 / 409 / 503. Each instance
 * listens on its own request channel and its own reply channel; a correlation id pairs them.
 * The operations and their request and reply schemas are `instanceRequests` (bus/messages.ts):
 * a request is typed by its operation on send, and both request and reply are parsed on receipt.
 *
 * A request may take the instance asked longer than any fixed wait: a capture's start pauses each
 * recording on the bridge's calls in turn (each up to PAUSE_ACK_TIMEOUT_MS, after their list), a
 * cancel answers once the capture has ended, after its hold for the caller's last keys (up to
 * MAX_HOLD_MS) and its resumes, and a call may carry any number of recordings. So the instance
 * working on a request says so (`working`) every third of the requester's wait while its handler
 * runs, and the requester's wait is for silence: it is renewed by each `working`, and runs out
 * only when the instance asked stopped answering (gone, cut off from the store). The answer is the
 * handler's, however long it took, as on the instance itself.
 *
 * `request()` resolves with the parsed reply or rejects with a coded error: TW_ERR_BUS_TIMEOUT
 * (no word from the instance asked for REQUEST_TIMEOUT_MS), TW_ERR_BUS_REMOTE_FAILED (the
 * handler there failed, or there is none), TW_ERR_BUS_REPLY_INVALID (an answer that does not
 * fit the operation's reply schema), TW_ERR_BUS_CLOSED (this instance shut down while waiting).
 *
 * Requests and replies are signed (store/signed-messages.ts); an unsigned, forged, moved or
 * replayed one is dropped and counted, so nobody who merely reaches Redis can start or cancel a
 * capture or answer for an instance.
 */
import { randomBytes } from 'node:crypto';
import { z, type ZodTypeAny } from 'zod';
import { BusErrors, Errors, isTonewallError, type TonewallError } from '../errors';
import { errFields } from '../log';
import { instanceRequests, REQUEST_OPS, type ReplyOf, type RequestOf, type RequestOp } from './messages';
import { checked, receive, reportDrop, type BusDeps } from './receive';

/**
 * How long a requester waits without word from the instance asked: its answer, or a `working`.
 * The instance says `working` every third of it (WORKING_SHARE), so two of those may be lost or
 * late (a store failover) before a live instance is taken for gone.
 */
export const REQUEST_TIMEOUT_MS = 6_000;
/** the instance working on a request says so this many times per requester's wait */
const WORKING_SHARE = 3;

const id = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/);
const requestEnvelope = z.object({ id, replyTo: z.string().min(1).max(128), op: z.enum(REQUEST_OPS), body: z.unknown() });
const replyEnvelope = z.discriminatedUnion('ok', [
  z.object({ id, ok: z.literal(true), reply: z.unknown() }),
  /** the far side's failure, as a fixed word: its reason stays in its own log */
  z.object({ id, ok: z.literal(false), error: z.enum(['failed', 'unhandled']) }),
]);
/** the instance asked is still working on the request: no answer yet, the requester waits on */
const workingEnvelope = z.object({ id, working: z.literal(true) });
const replyMessage = z.union([workingEnvelope, replyEnvelope]);

const UNANSWERED = new Set([BusErrors.timeout.code, BusErrors.remoteFailed.code, BusErrors.replyInvalid.code, BusErrors.closed.code]);

/** the request went out and no usable answer came back (as opposed to a store outage sending it) */
export function isUnanswered(e: unknown): boolean {
  return isTonewallError(e) && UNANSWERED.has(e.code);
}

export type RequestHandler<O extends RequestOp> = (request: RequestOf<O>) => Promise<ReplyOf<O>>;

interface Pending {
  op: RequestOp;
  resolve: (reply: unknown) => void;
  reject: (e: TonewallError) => void;
  /** runs out after the wait for silence; renewed by each `working` */
  timer: NodeJS.Timeout;
  /** starts the wait for silence again */
  renew: () => void;
}

export class InstanceRpc {
  private readonly handlers = new Map<RequestOp, (request: unknown) => Promise<unknown>>();
  private readonly pending = new Map<string, Pending>();
  /** the `working` timers of the requests this instance is serving */
  private readonly serving = new Set<NodeJS.Timeout>();
  private unsubscribe: Array<() => Promise<void>> = [];

  /**
   * `timeoutMs`: how long this instance's requests wait without word from the instance asked
   * (the deployment's instances share it); this instance says `working` every WORKING_SHARE-th
   * of it on the requests it serves
   */
  constructor(
    private readonly d: BusDeps,
    private readonly instanceId: string,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  /** one handler per operation on this instance; it answers requests once `start()` resolved */
  serve<O extends RequestOp>(op: O, handler: RequestHandler<O>): void {
    if (this.handlers.has(op)) throw BusErrors.handlerDuplicate(`request ${op}`);
    this.handlers.set(op, handler as (request: unknown) => Promise<unknown>);
  }

  /** listens for requests to this instance and for the replies to its own */
  async start(): Promise<void> {
    if (this.unsubscribe.length) return;
    const requests = this.d.keys.requestChannel(this.instanceId);
    const replies = this.d.keys.replyChannel(this.instanceId);
    this.unsubscribe.push(
      await this.d.store.subscribe(requests, (raw) => void this.serveOne(requests, raw)),
      await this.d.store.subscribe(replies, (raw) => this.onReply(replies, raw)),
    );
  }

  /**
   * Stops listening and saying `working`; requests still waiting reject with TW_ERR_BUS_CLOSED,
   * at once, not after Redis answers the unsubscribes (a request in flight in the server's close
   * waits on its own). Both channels are left together; an unsubscribe that failed is thrown,
   * for the caller to note once (LiveCalls.stop).
   */
  async close(): Promise<void> {
    for (const t of this.serving) clearInterval(t);
    this.serving.clear();
    const leaving = Promise.allSettled(this.unsubscribe.splice(0).map((u) => u()));
    for (const [key, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(key);
      p.reject(Errors.busClosed({ detail: p.op }));
    }
    const left = await leaving;
    const failed = left.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * asks `instanceId` (this one included) and waits for its parsed answer as long as it keeps
   * saying it is working on it, and at most `timeoutMs` without word from it
   */
  async request<O extends RequestOp>(instanceId: string, op: O, body: RequestOf<O>, opts: { timeoutMs?: number } = {}): Promise<ReplyOf<O>> {
    const message = { id: randomBytes(12).toString('base64url'), replyTo: this.instanceId, op, body: checked(instanceRequests[op].request, body) };
    const silenceMs = opts.timeoutMs ?? this.timeoutMs;
    const answer = new Promise<unknown>((resolve, reject) => {
      const expire = () => {
        this.pending.delete(message.id);
        reject(Errors.busTimeout({ detail: op }));
      };
      const p: Pending = {
        op,
        resolve,
        reject,
        timer: setTimeout(expire, silenceMs),
        renew: () => {
          clearTimeout(p.timer);
          p.timer = setTimeout(expire, silenceMs);
        },
      };
      this.pending.set(message.id, p);
    });
    const channel = this.d.keys.requestChannel(instanceId);
    try {
      await this.d.store.publish(channel, this.d.signer.sign(channel, message));
    } catch (e) {
      const p = this.pending.get(message.id);
      if (p) clearTimeout(p.timer);
      this.pending.delete(message.id);
      // the caller gets the publish error below; nobody waits on this answer, so its rejection is no failure of its own
      answer.catch(() => undefined);
      throw e;
    }
    return (await answer) as ReplyOf<O>;
  }

  private onReply(channel: string, raw: string): void {
    const r = receive(this.d.signer, channel, raw, replyMessage);
    if (!r.ok) {
      reportDrop(this.d, 'replies', r.reason);
      return;
    }
    const p = this.pending.get(r.message.id);
    if (!p) return; // answered after its timeout, or a `working` sent as the answer went
    if ('working' in r.message) {
      p.renew();
      return;
    }
    clearTimeout(p.timer);
    this.pending.delete(r.message.id);
    if (!r.message.ok) {
      p.reject(Errors.busRemoteFailed({ detail: `${p.op}: ${r.message.error}` }));
      return;
    }
    const reply = instanceRequests[p.op].reply.safeParse(r.message.reply);
    if (reply.success) {
      p.resolve(reply.data);
    } else {
      reportDrop(this.d, 'replies', 'invalid');
      p.reject(Errors.busReplyInvalid({ detail: p.op }));
    }
  }

  private async serveOne(channel: string, raw: string): Promise<void> {
    const r = receive(this.d.signer, channel, raw, requestEnvelope);
    if (!r.ok) {
      reportDrop(this.d, 'requests', r.reason);
      return;
    }
    const { id: requestId, replyTo, op } = r.message;
    const body = instanceRequests[op].request.safeParse(r.message.body);
    if (!body.success) {
      // no reply: a request this instance cannot read is one it cannot trust to answer
      reportDrop(this.d, 'requests', 'invalid');
      return;
    }
    const handler = this.handlers.get(op);
    const replies = this.d.keys.replyChannel(replyTo);
    let reply: z.infer<typeof replyEnvelope>;
    if (!handler) {
      reportDrop(this.d, 'requests', 'unhandled');
      reply = { id: requestId, ok: false, error: 'unhandled' };
    } else {
      // none for a quick answer; then one every share of the requester's wait, until the answer
      const working = setInterval(() => {
        const message: z.infer<typeof workingEnvelope> = { id: requestId, working: true };
        this.d.store
          .publish(replies, this.d.signer.sign(replies, message))
          .catch((e: unknown) => this.d.log.warn({ op, err: errFields(e) }, 'instance request progress not published'));
      }, this.timeoutMs / WORKING_SHARE);
      this.serving.add(working);
      try {
        const schema: ZodTypeAny = instanceRequests[op].reply;
        reply = { id: requestId, ok: true, reply: checked(schema, await handler(body.data)) };
      } catch (e) {
        this.d.log.error({ op, err: errFields(e) }, 'instance request failed');
        reply = { id: requestId, ok: false, error: 'failed' };
      } finally {
        clearInterval(working);
        this.serving.delete(working);
      }
    }
    await this.d.store
      .publish(replies, this.d.signer.sign(replies, reply))
      .catch((e: unknown) => this.d.log.error({ op, err: errFields(e) }, 'instance reply not published'));
  }
}
