/**
 * The chain of a call's audit trail (DESIGN "State"): what an entry is, how one is sealed onto
 * the entry before it, and how a trail is checked, by AuditTrail (trail.ts) and offline by an
 * assessor's check of an export (tools/cli/audit-verify.ts).
 *
 * Tamper evidence against someone who can write the store (issue 11): each entry's `hash` is an
 * HMAC-SHA256, keyed with AUDIT_KEY (held only in the environment), over the call's sid and the
 * entry's canonical JSON, `prev` included. Rewriting an entry, re-chaining the rest, or moving an
 * entry to another call's trail needs the key. AUDIT_KEY may hold a ring (keys.ts): `kid` names
 * the key that sealed an entry and the entry is checked with that key, so a trail sealed before a
 * rotation still verifies while its key stays in the ring; a kid naming no key in the ring reads
 * as `unknown-key` (unchecked), never as a benign key change. What a store writer can still do
 * is cut the tail or delete a whole trail: the export (agents/audit-routes.ts) reports a trail
 * its day index names and the store no longer holds (`missing`), as the call's audit route does
 * for a trail whose call's record is still held, but a tail cut short, or a
 * trail deleted together with its index entries, only an export kept in a SIEM shows.
 */
import { timingSafeEqual } from 'node:crypto';
import { type AuditKey, type AuditKeyRing, auditKeyRing } from './keys';
import type { AuditValue } from './pii';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEntry {
  seq: number;
  at: string;
  type: string;
  kid: string;
  prev: string;
  hash: string;
  [k: string]: string | number | boolean;
}

/** where a trail stops holding, and why: the first entry (by position, from 1) that fails */
export interface BrokenLink {
  seq: number;
  /**
   * `unknown-key`: the entry names a key not in the ring (one dropped too soon, or a forged
   * `kid`), so it cannot be checked; `mac`: its MAC fails under the key it names; `missing`:
   * the day index or the call's record names the trail and the store holds none (deleted whole).
   */
  reason: 'unreadable' | 'sequence' | 'link' | 'unknown-key' | 'mac' | 'missing';
}

/**
 * The stored entry: every member of `fields` plus `hash`, the HMAC of the call and their canonical
 * JSON. `fields` itself becomes the entry (its undefined members dropped, `hash` added), not a
 * copy of it: every caller builds it fresh for this one entry.
 */
export function sealEntry(key: AuditKey, callSid: string, fields: Record<string, AuditValue>): AuditEntry {
  for (const k in fields) if (fields[k] === undefined) delete fields[k];
  fields.hash = key.mac(callSid, fields);
  return fields as AuditEntry;
}

/**
 * The first entry of `callSid`'s trail that does not hold, or null when all do. Each entry is
 * checked with the key its `kid` names, so a kid is never taken on trust: a forged one names no
 * key in the ring (`unknown-key`) or one whose MAC then fails (`mac`).
 */
export function verifyChain(keys: AuditKey | AuditKeyRing, callSid: string, entries: AuditEntry[]): BrokenLink | null {
  const ring = auditKeyRing(keys);
  let prev = GENESIS_HASH;
  for (let i = 0; i < entries.length; i++) {
    const seq = i + 1;
    const { hash, ...rest } = entries[i];
    if (rest.seq !== seq) return { seq, reason: 'sequence' };
    if (rest.prev !== prev) return { seq, reason: 'link' };
    const key = ring.get(rest.kid);
    if (!key) return { seq, reason: 'unknown-key' };
    if (typeof hash !== 'string' || !safeEqualHex(key.mac(callSid, rest), hash)) return { seq, reason: 'mac' };
    prev = hash;
  }
  return null;
}

function safeEqualHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** a stored trail's entries (its JSON array), or null when it is unreadable */
export function parseEntries(raw: string): AuditEntry[] | null {
  try {
    const v: unknown = JSON.parse(raw);
    if (!Array.isArray(v)) return null;
    for (const e of v) if (e === null || typeof e !== 'object' || Array.isArray(e)) return null;
    return v as AuditEntry[];
  } catch {
    return null;
  }
}
