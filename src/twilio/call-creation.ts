/**
 * A new call's record, created together with its audit trail's first entry (runner.ts `start`).
 */
import type { AuditInput, AuditTrail } from '../audit';
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import type { Flow } from '../flows/schema';
import type { Store } from '../store';
import { Errors } from '../errors';
import type { Opening } from './opening';

export interface CreationDeps {
  calls: CallRepository;
  audit: AuditTrail;
  /** where a call's record and its trail's first entry are created together */
  store: Store;
}

/** tries of a call's creation with its trail: a refusal means another writer's append to a trail that outlived its record landed */
const CREATE_MAX_TRIES = 5;

/** the audit entry that begins a call's trail */
export function callStartedEntry(flow: Flow): AuditInput {
  return { type: 'call.started', flowId: flow.id };
}

/**
 * The call's record, with its indexes and `also`, created unless it exists, together with its
 * trail's `call.started` entry, in one atomic write (as twilio/first-webhook.ts creates them):
 * a call's record never exists without its trail, so a record whose trail is gone shows the
 * trail was deleted (agents/audit-routes.ts). The trail is chained by compare-and-set: none for
 * a new call, or one this process began (guessed as written), or one that outlived an earlier
 * record (the refusal carries it, chained onto then). `trailed` false: the stored trail is unreadable, so the record is created alone.
 */
export async function createCall(d: CreationDeps, flow: Flow, opening: Opening): Promise<{ session: CallSession; created: boolean; trailed: boolean }> {
  const { session } = opening;
  const { record, ops } = d.calls.creation(session, opening.also);
  const entry = d.audit.prepare(callStartedEntry(flow));
  // none for a new call; one this process wrote already (a drop-in capture's `dropin.recording`), as it wrote it
  let trail = d.audit.writtenTrail(session.callSid);
  for (let attempt = 1; attempt <= CREATE_MAX_TRIES; attempt++) {
    let chained: ReturnType<AuditTrail['chain']>;
    try {
      chained = d.audit.chain(session.callSid, trail, [entry]);
    } catch {
      return { ...(await d.calls.create(session, opening.also)), trailed: false };
    }
    const res = await d.store.compareAndSetAll(
      [{ key: record.key, expected: null, next: record.value, ttlSeconds: record.ttlSeconds }, chained.record],
      [...ops, ...chained.ops],
    );
    if (res.ok) {
      d.calls.created(session, record);
      d.audit.written(session.callSid, chained.record);
      return { session, created: true, trailed: true };
    }
    const [stored, storedTrail] = res.current;
    if (stored !== null) return { session: d.calls.fromStored(stored), created: false, trailed: true };
    trail = storedTrail;
  }
  throw Errors.conflict({ detail: 'too many concurrent audit appends' });
}
