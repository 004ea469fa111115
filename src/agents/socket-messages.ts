/**
 * The agent WebSocket protocol (CONTRACT §5): client messages parsed with zod, and the event
 * types the server forwards from the event bus. The server's events are the union `agentEvent`
 * of bus/messages.ts (the bus's call events and `error`).
 */
import { z } from 'zod';
import type { CallEventType } from '../bus';
import { captureRequestSchema } from '../captures';

export const authMessage = z.object({ type: z.literal('auth'), token: z.string().min(1).max(4096) }).strict();

const callSid = z.string().min(1).max(64);

export const clientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('handoff.accept'), callSid }).strict(),
  captureRequestSchema.extend({ type: z.literal('capture.start'), callSid }).strict(),
  // CONTRACT §5 names no capture on a cancel: without captureId it is the call's running one (actions.ts)
  z.object({ type: z.literal('capture.cancel'), callSid, captureId: z.string().min(1).max(64).optional() }).strict(),
  // the agent is at the panel (a key or the pointer): a use of the token that keeps the service's
  // idle limit (auth/idle.ts) from ending it while the agent reads without clicking; no answer
  z.object({ type: z.literal('activity') }).strict(),
]);
export type ClientMessage = z.infer<typeof clientMessage>;

/** the bus events agents are shown; anything else on the bus stays between instances */
export const AGENT_EVENT_TYPES: ReadonlySet<CallEventType> = new Set<CallEventType>([
  'handoff.offered',
  'handoff.taken',
  'call.bridged',
  'capture.started',
  'capture.progress',
  'capture.completed',
  'capture.failed',
  'processor.result',
  'payment.updated',
  'call.ended',
]);

/** close code for a socket that did not authenticate (4000 + HTTP 401) */
export const CLOSE_UNAUTHORIZED = 4401;
/** CONTRACT §5: the `auth` message must come this soon after the socket opens */
export const AUTH_TIMEOUT_MS = 5_000;
