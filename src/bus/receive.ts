/**
 * Receiving a message from another instance: verify its signature for the channel it came on,
 * then parse its payload with the message's schema. What fails either is dropped, logged with a
 * fixed line and counted by its reason, never cast; the reason is a fixed word and nothing of
 * the message is logged, so a drop can leak nothing.
 */
import type { ZodType, ZodTypeDef } from 'zod';
import { Errors } from '../errors';
import type { Logger } from '../log';
import type { Keys, MessageSigner, Store } from '../store';
import type { Verified } from '../store/signed-messages';

export type BusName = 'events' | 'commands' | 'requests' | 'replies' | 'sessions';
/** a refused signature ('unsigned', 'bad-signature', 'stale', 'replayed', 'malformed'), a payload that did not parse, or a message nobody here handles */
export type DropReason = Extract<Verified, { ok: false }>['reason'] | 'invalid' | 'unhandled';
/** told of every message dropped on receipt (app.ts counts them in tonewall_bus_dropped_total) */
export type OnDropped = (bus: BusName, reason: DropReason) => void;

/** what every bus is built on */
export interface BusDeps {
  store: Store;
  keys: Keys;
  /** signs what this instance publishes, verifies what it receives (store/signed-messages.ts) */
  signer: MessageSigner;
  log: Logger;
  onDropped?: OnDropped;
}

export type Received<T> = { ok: true; message: T } | { ok: false; reason: DropReason };

export function receive<T>(signer: MessageSigner, channel: string, raw: string, schema: ZodType<T, ZodTypeDef, unknown>): Received<T> {
  const verified = signer.verify(channel, raw);
  if (!verified.ok) return { ok: false, reason: verified.reason };
  const parsed = schema.safeParse(verified.payload);
  return parsed.success ? { ok: true, message: parsed.data } : { ok: false, reason: 'invalid' };
}

const WHAT: Record<BusName, string> = {
  events: 'call event',
  commands: 'instance command',
  requests: 'instance request',
  replies: 'instance reply',
  sessions: 'session event',
};

/** logs and counts a dropped message: a refused signature is someone on the store who is not an instance; the rest, a peer on another version */
export function reportDrop(d: BusDeps, bus: BusName, reason: DropReason): void {
  d.onDropped?.(bus, reason);
  if (reason === 'invalid') d.log.warn({ bus, reason }, `${WHAT[bus]} is malformed: dropped`);
  else if (reason === 'unhandled') d.log.warn({ bus, reason }, `no handler for ${WHAT[bus]}: dropped`);
  else d.log.warn({ bus, reason }, `${WHAT[bus]} refused: not signed by an instance`);
}

/**
 * A message checked against its schema before it is signed and published: a value where a masked
 * form belongs is refused here, before it leaves. The error names the fields, never their text.
 */
export function checked<T>(schema: ZodType<T, ZodTypeDef, unknown>, message: unknown): T {
  const parsed = schema.safeParse(message);
  if (parsed.success) return parsed.data;
  const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(message)'))].join(', ');
  throw Errors.busMessageInvalid({ detail: fields });
}
