/**
 * Every message that crosses instances, as zod schemas: the call events agents are shown, the
 * commands an instance is told to run, and the requests it is asked to answer. A message is
 * parsed with these on receipt (what does not parse is dropped and counted, never cast) and
 * typed by them on publish.
 *
 * bus/ is the base layer: these are wire shapes, not domain types. The domain conforms to them
 * (captures/types.ts and fields/ check at compile time that their kinds and brands are these).
 * Nothing here may carry a captured value or a full caller number: masked strings are held to
 * the masked forms of CONTRACT §5 (at most 4 digits shown), so a value put in one by mistake is
 * refused rather than sent.
 */
import { z } from 'zod';
import { AUDIT_ACTOR } from '../audit/pii';

/** CONTRACT §3: the kinds of value a flow or a capture collects */
export const WIRE_FIELD_KINDS = ['digits', 'card-number', 'expiry', 'security-code', 'date', 'routing-number', 'postal-code'] as const;
/** CONTRACT §5: a card's brand, lower-case */
export const WIRE_CARD_BRANDS = ['visa', 'mastercard', 'amex', 'discover', 'jcb', 'diners', 'unionpay', 'maestro'] as const;

const callSid = z.string().min(1).max(64);
const captureId = z.string().min(1).max(64);
const fieldName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a field name: a letter, then letters, digits, _ or -');
export const fieldKind = z.enum(WIRE_FIELD_KINDS);
export const cardBrand = z.enum(WIRE_CARD_BRANDS);
/**
 * a value's masked form: '*' per hidden digit, then at most the last 4 (a card's). As long as
 * what a caller keyed into a failed IVR field (one '*' per key), within reason.
 */
const masked = z
  .string()
  .max(1024)
  .regex(/^\**[0-9]{0,4}$/, 'a masked form');
/**
 * a caller as agents see them (privacy/subject.ts maskedCaller): a number masked (fields/mask.ts
 * maskPhone: '+', '*' per hidden digit, at most 4 shown), `withheld` when the caller withheld it
 * (calls/session.ts WITHHELD_CALLER), a Client identity with no character of its name, or a SIP
 * address with none of its user part and at most its host's name
 */
const maskedCaller = z.string().regex(/^(?:\+?\*{0,16}[A-Za-z0-9]{0,4}|withheld|client:\*{4}|sip:\*{4}(?:@[a-z0-9.-]{1,253})?)$/, 'a masked caller');
const last4 = z.string().regex(/^[0-9]{4}$/);
/** a failure or status code ('timeout', 'luhn', 'recording-pause-failed'): text, bounded */
const reason = z.string().min(1).max(256);
const count = z.number().int().nonnegative().max(1024);

/** who asked, as the audit trail names them (AuditTrail.actor): a role and a digest, never a `sub` */
const actor = z.string().regex(AUDIT_ACTOR);

/** the body of `POST /v1/calls/:callSid/captures`, of the `capture.start` client message and of a capture request */
export const captureRequest = z
  .object({
    name: fieldName,
    kind: fieldKind,
    blanket: z.boolean().optional(),
    minLength: z.number().int().min(1).max(32).optional(),
    maxLength: z.number().int().min(1).max(32).optional(),
  })
  .strict();

/** a field as agents see it (agents/views.ts, handoff.offered) */
export const maskedField = z.object({
  kind: fieldKind,
  masked,
  last4: last4.optional(),
  brand: cardBrand.optional(),
  valid: z.boolean(),
  reason: reason.optional(),
});

export type MaskedFieldView = z.infer<typeof maskedField>;

/** a processor's answer as agents see it: the allow-listed summary (processors/summary.ts) */
export const processorSummary = z.object({
  approved: z.boolean().optional(),
  status: z.string().max(32).optional(),
  /** an approval or decline code: 6 characters in tonewall's protocol, a word such as card_declined from a Generic Pay Connector */
  code: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
  reference: z.string().max(64).optional(),
  /** a Generic Pay Connector's token for the card (Twilio's PaymentToken): not card data */
  token: z.string().max(128).optional(),
  /** from the call's own masked card, never from the processor */
  last4: last4.optional(),
  brand: cardBrand.optional(),
});
export type ProcessorSummaryView = z.infer<typeof processorSummary>;

/** an agent-assisted payment session as agents see it (captures/payments.ts PaymentView) */
export const paymentView = z.object({
  paymentId: z.string().min(1).max(64),
  callSid,
  status: z.enum(['open', 'completed', 'cancelled']),
  capturing: fieldName.nullable(),
  required: z.array(fieldName).max(16),
  fields: z
    .array(
      z.object({
        name: fieldName,
        kind: fieldKind,
        status: z.enum(['pending', 'capturing', 'valid', 'invalid']),
        masked: masked.optional(),
        last4: last4.optional(),
        brand: cardBrand.optional(),
        reason: reason.optional(),
        captureId: captureId.optional(),
      }),
    )
    .max(16),
  createdAt: z.string().max(64),
  endedAt: z.string().max(64).optional(),
});

const captureBase = { callSid, captureId, name: fieldName, kind: fieldKind, entered: count, masked };

/** CONTRACT §5's server events, as instances publish them on the event bus; every one carries callSid */
export const callEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('handoff.offered'), callSid, from: maskedCaller, fields: z.record(fieldName, maskedField) }),
  /**
   * an offer another token's accept took: told to those it was offered to who no longer see the
   * call (agents/socket.ts), so no panel keeps offering it. The call alone: not who took it
   */
  z.object({ type: z.literal('handoff.taken'), callSid }),
  /** agent: who accepted the call, as the audit trail names them (never their `sub`: every panel that sees the call reads this) */
  z.object({ type: z.literal('call.bridged'), callSid, agent: actor.optional() }),
  z.object({ type: z.literal('capture.started'), callSid, captureId, name: fieldName, kind: fieldKind, blanket: z.boolean() }),
  z.object({ type: z.literal('capture.progress'), callSid, captureId, entered: count, masked }),
  z.object({ type: z.literal('capture.completed'), ...captureBase, valid: z.literal(true), brand: cardBrand.optional(), last4: last4.optional() }),
  z.object({ type: z.literal('capture.failed'), ...captureBase, reason, valid: z.boolean().optional() }),
  z.object({
    type: z.literal('processor.result'),
    callSid,
    processor: z.string().min(1).max(64),
    ok: z.boolean(),
    status: z.number().int().optional(),
    result: processorSummary.optional(),
    attempts: z.number().int().nonnegative(),
  }),
  z.object({ type: z.literal('payment.updated'), callSid, payment: paymentView }),
  /**
   * status: Twilio's terminal CallStatus, or 'completed' when a bridge ended the call; agent:
   * for a call whose record an erasure took while it was bridged, the agent who accepted it, as
   * the audit trail names them (the record that said so is gone, and their panel must hear of the end)
   */
  z.object({ type: z.literal('call.ended'), callSid, status: z.string().min(1).max(32), agent: actor.optional() }),
]);
export type CallEvent = z.infer<typeof callEvent>;
export type CallEventType = CallEvent['type'];

/** a client message the agent socket could not serve; the connection stays open (never on the bus) */
export const agentError = z.object({
  type: z.literal('error'),
  callSid: callSid.nullable(),
  message: z.string().max(512),
  code: z.string().max(64).optional(),
  request: z.string().max(64).optional(),
});
/** what the agent WebSocket sends: the bus's call events and its own errors */
export const agentEvent = z.discriminatedUnion('type', [...callEvent.options, agentError]);
export type AgentEvent = z.infer<typeof agentEvent>;

/**
 * A token's session ended before its exp (`POST /v1/session/signout`), told to every instance so
 * the sockets it opened close: named by the digest the store files it under (auth/revocations.ts
 * tokenDigest), never the token or its `sub`
 */
export const sessionEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('session.revoked'), token: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a token digest') }),
]);
export type SessionEvent = z.infer<typeof sessionEvent>;

/** commands for the instance holding a call's bridge (fire and forget) */
export const instanceCommand = z.discriminatedUnion('type', [
  /** put an agent through: dial `endpoint` into the caller's bridge */
  z.object({
    type: z.literal('dial-agent'),
    callSid,
    endpoint: z.string().min(1).max(256),
    agentSub: z.string().min(1).max(256).optional(),
    /** how the bridge's events name the agent (optional: an older instance sends none, and its bridge's events name no one) */
    agentActor: actor.optional(),
  }),
]);
export type InstanceCommand = z.infer<typeof instanceCommand>;
export type InstanceCommandType = InstanceCommand['type'];

/** a capture's answer: a refusal maps to one HTTP status in the agent API (409, 503, 504) */
export const startResult = z.union([
  z.object({ ok: z.literal(true), captureId }),
  z.object({ ok: z.literal(false), error: z.enum(['capture-running', 'recording-pause-failed', 'not-bridged', 'call-not-found', 'instance-unreachable']) }),
]);
export const cancelResult = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: z.enum(['capture-not-found', 'instance-unreachable']) }),
]);

/**
 * What an instance can be asked, and what it answers (bus/rpc.ts): each operation names the
 * schema of its request and of its reply.
 */
export const instanceRequests = {
  'capture.start': { request: z.object({ callSid, captureId, request: captureRequest, actor: actor.optional() }), reply: startResult },
  'capture.cancel': { request: z.object({ callSid, captureId, actor: actor.optional() }), reply: cancelResult },
} as const;
type Requests = typeof instanceRequests;
export type RequestOp = keyof Requests;
export type RequestOf<O extends RequestOp> = z.infer<Requests[O]['request']>;
export type ReplyOf<O extends RequestOp> = z.infer<Requests[O]['reply']>;
export const REQUEST_OPS = Object.keys(instanceRequests) as [RequestOp, ...RequestOp[]];
