/**
 * The per-call audit trail (DESIGN "State"): append-only, each entry hash-chained to the one
 * before, no personal data, kept 30 days for assessors (it outlives the call and any erasure).
 *
 * Storage: one key per call holding the whole JSON array, appended with `store.update` (WATCH/
 * MULTI in Redis). The chain needs the previous entry's hash at the moment of appending, so the
 * read of the tail and the write of the new entry must be one atomic step; a Redis list plus
 * RPUSH cannot give that without a script, an optimistic update of one key can. A call's trail
 * is a few dozen small entries, so rewriting the array is cheap. Appends from one process are
 * queued per call (no self-contention); appends from other instances that collide are retried
 * with a short jittered pause.
 */
import { Errors, TonewallError, isTonewallError } from '../errors';
import type { Keys, Store } from '../store';
import { canonicalJson, sha256Hex } from './canonical';
import { type AuditValue, assertNoPersonalData, AuditErrors } from './pii';

export const AUDIT_TTL_SECONDS = 30 * 24 * 60 * 60;
export const GENESIS_HASH = '0'.repeat(64);

/** cross-instance collisions on one call's trail are rare; a few retries absorb bursts */
const APPEND_MAX_TRIES = 10;
const APPEND_RETRY_BASE_MS = 5;

export interface AuditEntry {
  seq: number;
  at: string;
  type: string;
  prev: string;
  hash: string;
  [k: string]: string | number | boolean;
}

export type AuditInput = { type: string; [k: string]: AuditValue };

const TYPE = /^[a-z][a-z0-9_.-]{0,63}$/;

export class AuditTrail {
  private readonly ttlSeconds: number;
  /** per-call tail of this process's pending appends */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    opts: { ttlSeconds?: number } = {},
  ) {
    this.ttlSeconds = opts.ttlSeconds ?? AUDIT_TTL_SECONDS;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) throw AuditErrors.invalid('ttlSeconds must be a positive whole number');
  }

  /** Appends one entry. Throws (and stores nothing) if the entry could carry personal data. */
  async append(callSid: string, entry: AuditInput): Promise<void> {
    const { type, ...data } = entry;
    if (typeof type !== 'string' || !TYPE.test(type)) throw AuditErrors.invalid('type must be a short lower-case name');
    assertNoPersonalData(data);
    const at = new Date().toISOString();
    const prior = this.queues.get(callSid) ?? Promise.resolve();
    const run = prior.catch(() => undefined).then(() => this.appendWithRetry(callSid, type, data, at));
    this.queues.set(callSid, run);
    try {
      await run;
    } finally {
      if (this.queues.get(callSid) === run) this.queues.delete(callSid);
    }
  }

  async list(callSid: string): Promise<AuditEntry[]> {
    const raw = await this.store.get(this.keys.audit(callSid));
    return raw ? parseEntries(raw) ?? [] : [];
  }

  /** The entries and whether every link of the chain and every entry's own hash hold. */
  async verify(callSid: string): Promise<{ entries: AuditEntry[]; verified: boolean }> {
    const raw = await this.store.get(this.keys.audit(callSid));
    if (raw === null) return { entries: [], verified: true };
    const entries = parseEntries(raw);
    if (!entries) return { entries: [], verified: false };
    return { entries, verified: verifyChain(entries) };
  }

  private async appendWithRetry(callSid: string, type: string, data: Record<string, AuditValue>, at: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.update(
          this.keys.audit(callSid),
          (current) => {
            const entries = current ? parseEntries(current) : [];
            // a trail that no longer parses is evidence: never overwrite it
            if (!entries) throw AuditErrors.invalid('the stored trail is unreadable');
            const last = entries[entries.length - 1];
            entries.push(sealEntry({ seq: entries.length + 1, at, type, prev: last ? last.hash : GENESIS_HASH, ...data }));
            return JSON.stringify(entries);
          },
          this.ttlSeconds,
        );
        return;
      } catch (e) {
        if (!isConflict(e) || attempt >= APPEND_MAX_TRIES) throw e;
        const pause = APPEND_RETRY_BASE_MS * attempt * (0.5 + Math.random());
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }
}

/** The stored entry: every member of `fields` plus `hash` over their canonical JSON. */
export function sealEntry(fields: Record<string, AuditValue>): AuditEntry {
  const clean: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) clean[k] = v;
  return { ...clean, hash: sha256Hex(canonicalJson(clean)) } as AuditEntry;
}

export function verifyChain(entries: AuditEntry[]): boolean {
  let prev = GENESIS_HASH;
  for (let i = 0; i < entries.length; i++) {
    const { hash, ...rest } = entries[i];
    if (rest.seq !== i + 1 || rest.prev !== prev) return false;
    if (typeof hash !== 'string' || sha256Hex(canonicalJson(rest)) !== hash) return false;
    prev = hash;
  }
  return true;
}

function parseEntries(raw: string): AuditEntry[] | null {
  try {
    const v: unknown = JSON.parse(raw);
    if (!Array.isArray(v)) return null;
    for (const e of v) if (e === null || typeof e !== 'object' || Array.isArray(e)) return null;
    return v as AuditEntry[];
  } catch {
    return null;
  }
}

/**
 * A lost optimistic-update race. RedisStore wraps the conflict it throws after its own retries
 * in a store-unavailable error, so look at the cause too.
 */
function isConflict(e: unknown): boolean {
  if (!isTonewallError(e)) return false;
  if (e.code === 'TW_ERR_CONFLICT') return true;
  const cause = (e as TonewallError & { cause?: unknown }).cause;
  return e.code === Errors.storeUnavailable().code && isTonewallError(cause) && cause.code === 'TW_ERR_CONFLICT';
}
