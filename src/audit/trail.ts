/**
 * The per-call audit trail (DESIGN "State"): append-only, each entry hash-chained to the one
 * before, no personal data, kept 30 days for assessors (it outlives the call and any erasure).
 *
 * Storage: one key per call holding the whole JSON array, appended with `store.compareAndSet`.
 * The chain needs the previous entry's hash at the moment of appending, so the read of the tail
 * and the write of the new entry must be one atomic step: the write lands only if the trail is
 * still the one the entry was chained to. A call's trail is a few dozen small entries, so
 * rewriting the array is cheap. The first try is chained to this process's last write of the
 * trail (none for a new call), so an append is usually one round trip; a refusal carries the
 * trail as stored, and the retry chains to that. Appends from one process are queued per call
 * (no self-contention); appends from other instances that collide are retried, pausing briefly
 * after the first few refusals.
 */
import { Errors } from '../errors';
import type { Keys, Store } from '../store';
import { canonicalJson, sha256Hex } from './canonical';
import { type AuditValue, assertNoPersonalData, AuditErrors } from './pii';

export const AUDIT_TTL_SECONDS = 30 * 24 * 60 * 60;
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Cross-instance collisions on one call's trail are rare, and every refusal means another
 * instance's append landed; pausing only after a few refusals still absorbs bursts.
 */
const APPEND_MAX_TRIES = 30;
const APPEND_RETRIES_WITHOUT_PAUSE = 3;
const APPEND_RETRY_BASE_MS = 2;
/** trails of recent calls this process wrote last, as first guesses (a few KB each) */
const LAST_WRITTEN_MAX = 1024;

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
  /** per call, the trail as this process last wrote it: a guess, checked by compare-and-set */
  private readonly lastWritten = new Map<string, string>();

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
    const key = this.keys.audit(callSid);
    let current = this.lastWritten.get(callSid) ?? null;
    for (let attempt = 1; attempt <= APPEND_MAX_TRIES; attempt++) {
      const entries = current === null ? [] : parseEntries(current);
      // a trail that no longer parses is evidence: never overwrite it
      if (!entries) throw AuditErrors.invalid('the stored trail is unreadable');
      const last = entries[entries.length - 1];
      entries.push(sealEntry({ seq: entries.length + 1, at, type, prev: last ? last.hash : GENESIS_HASH, ...data }));
      const next = JSON.stringify(entries);
      const res = await this.store.compareAndSet(key, current, next, this.ttlSeconds);
      if (res.ok) {
        this.remember(callSid, next);
        return;
      }
      current = res.current;
      if (attempt >= APPEND_RETRIES_WITHOUT_PAUSE) {
        await new Promise((r) => setTimeout(r, APPEND_RETRY_BASE_MS * attempt * (0.5 + Math.random())));
      }
    }
    this.lastWritten.delete(callSid);
    throw Errors.conflict({ detail: 'too many concurrent audit appends' });
  }

  private remember(callSid: string, trail: string): void {
    this.lastWritten.delete(callSid);
    this.lastWritten.set(callSid, trail);
    if (this.lastWritten.size > LAST_WRITTEN_MAX) this.lastWritten.delete(this.lastWritten.keys().next().value as string);
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
