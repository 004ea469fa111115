/**
 * The end of a dial handoff's <Dial> (CONTRACT §2 `/twilio/dial-status`, §3 `handoff.mode:
 * dial`). Twilio requests the <Dial action> once the dialled call ends, whether the agent
 * answered or not: busy, no-answer (the <Dial timeout> passed), failed (no such number or
 * endpoint), canceled. A call whose agent never answered would otherwise be hung up in silence
 * after giving its values: it hears a fixed apology (the `no-agent` message, in its flow's
 * language and voice) and is hung up. A dial that connected answers empty TwiML: the call ends
 * when the agent hangs up. Either way the outcome goes on the call's audit trail with the answer
 * remembered, in one write (webhook-write.ts).
 *
 * The safe answer's own <Dial> (twiml.ts `safeTwiml`, `?fallback=1`) ends here too, but that
 * answer is typically given because the store is unreachable: its end is answered from the
 * request alone (`DialCallStatus`, the flow by the number called), with no store read or write,
 * no replay claim (the answer is the same for a resend) and no audit entry. A dial-status that
 * cannot be served answers the same way (`dialEndedTwiml`), never the safe answer's dial again:
 * a dial that just ended would be dialled again, and one after a conversation, the agent.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { ACCOUNT_SID, CALL_SID } from '../sids';
import type { CallRepository } from '../calls/repository';
import type { FlowRegistry } from '../flows/load';
import type { Metrics } from '../metrics';
import type { Claimed } from './serving';
import { emptyTwiml, sayAndHangUpTwiml } from './twiml';
import type { StoredAnswer } from './replay';
import type { WebhookWrite } from './webhook-write';

// the contract's `CA…` and `AC…` (sids.ts): a test rig's shorter SIDs are Twilio's as much as 32 hex digits
const callSid = z.string().regex(CALL_SID);
const accountSid = z.string().regex(ACCOUNT_SID);

/** Twilio's DialCallStatus values (docs: /docs/voice/twiml/dial); `answered` is a conference's */
const DIAL_CALL_STATUSES = ['completed', 'answered', 'busy', 'no-answer', 'failed', 'canceled'] as const;
/** the statuses of a dial whose party answered and was connected to the caller */
const CONNECTED: ReadonlySet<string> = new Set(['completed', 'answered']);

export const dialStatusParams = z.object({
  CallSid: callSid,
  AccountSid: accountSid,
  To: z.string().max(256).default(''),
  /** a status Twilio does not document is audited as `unknown`, and taken as not connected */
  DialCallStatus: z.enum(DIAL_CALL_STATUSES).optional().catch(undefined),
  /** the dialled call's own SID (absent after a conference) */
  DialCallSid: callSid.optional().catch(undefined),
  /** seconds the parties talked; Twilio sends it for a call that was answered */
  DialCallDuration: z.coerce.number().int().min(0).max(86_400).optional().catch(undefined),
});

/** `?fallback=1` (twiml.ts SAFE_DIAL_QUERY): the end of the safe answer's <Dial>; anything else, a dial handoff's */
export const dialStatusQuery = z.object({ fallback: z.literal('1').optional() }).catch({});

/** a dial's end from the request alone: empty TwiML once connected, else the no-agent apology in the called number's flow's words, then a hangup */
export function dialEndedTwiml(flows: FlowRegistry, raw: Record<string, string>): string {
  const status = dialStatusParams.shape.DialCallStatus.parse(raw.DialCallStatus);
  return status && CONNECTED.has(status) ? emptyTwiml() : sayAndHangUpTwiml('no-agent', flows.byNumber(raw.To ?? ''));
}

/** the end of the safe answer's <Dial>: nothing read or written in the store, which may be what failed */
export function safeDialEndedHandler(flows: FlowRegistry) {
  return async (raw: Record<string, string>, log: Logger): Promise<string> => {
    // a request without a valid CallSid is refused (its safe answer is this route's own, the same words)
    const p = dialStatusParams.parse(raw);
    const status = p.DialCallStatus ?? 'unknown';
    if (CONNECTED.has(status)) log.info({ dialCallStatus: status }, "the safe answer's dial ended");
    else log.warn({ dialCallStatus: status }, "the safe answer's dial did not connect: apology and hang-up");
    return dialEndedTwiml(flows, raw);
  };
}

export interface DialStatusDeps {
  calls: CallRepository;
  flows: FlowRegistry;
  webhookWrite: WebhookWrite;
  metrics: Pick<Metrics, 'dialHandoffs'>;
}

export function dialStatusHandler(d: DialStatusDeps) {
  return async (raw: Record<string, string>, log: Logger, { identity, reads }: Claimed): Promise<string | { remembered: StoredAnswer }> => {
    const p = dialStatusParams.parse(raw);
    const status = p.DialCallStatus ?? 'unknown';
    const connected = CONNECTED.has(status);
    const read = await d.webhookWrite.load(p.CallSid, reads);
    // the call's own flow (its language and voice); a call whose record is gone (erased,
    // expired) by the number it called, as the safe apology finds it
    const session = read.session ? d.calls.fromStored(read.session) : null;
    const flow = (session ? d.flows.byId(session.flowId) : undefined) ?? d.flows.byNumber(p.To);
    const twiml = connected ? emptyTwiml() : sayAndHangUpTwiml('no-agent', flow);
    // no record, nothing to add the entry to: its trail has the handoff, or the erasure, already
    const audit = session
      ? [
          {
            type: 'handoff.dial-ended',
            twilioStatus: status,
            connected,
            ...(p.DialCallSid ? { dialCallSid: p.DialCallSid } : {}),
            ...(p.DialCallDuration !== undefined ? { durationSeconds: p.DialCallDuration } : {}),
          },
        ]
      : [];
    if (connected) log.info({ dialCallStatus: status }, 'dial handoff ended');
    else log.warn({ dialCallStatus: status }, 'dial handoff did not connect: apology and hang-up');
    const answered = await d.webhookWrite.answerWith(read, identity, audit, twiml);
    // counted once its answer is written: a retry of this request is answered from the replay cache
    d.metrics.dialHandoffs.inc({ status });
    return answered;
  };
}
