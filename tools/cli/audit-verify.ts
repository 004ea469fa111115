/**
 * `npm run audit:verify -- older.ndjson [newer.ndjson …]`: an assessor's check of audit exports
 * (`GET /v1/audit/export`, CONTRACT §7) without the service or its store. Each export is
 * checked on its own: every trail's entries numbered from 1, each chained to the one before, and,
 * with `AUDIT_KEY` in the environment (the same text the service is given, every key of the ring),
 * each entry's MAC under the key its `kid` names. The service's own `verified` is not trusted.
 * Exports given oldest first are also compared: a trail a later export holds fewer entries of
 * (its tail cut in the store) or holds a different entry at the same `seq` (rewritten) is
 * reported, which is what the sealed chain alone cannot show. A trail the service itself reported
 * broken (an entry-less line: unreadable, missing) is reported too.
 *
 * Prints one JSON line per problem ({file, callSid, seq, problem}) and a summary on stderr;
 * exits 1 when there is any problem, 2 on bad input. Without AUDIT_KEY only links and numbering
 * are checked (anyone can forge those): the summary says so.
 */
import 'dotenv/config';
import fs from 'node:fs';
import { type AuditEntry, AuditKey, AuditKeyRing, GENESIS_HASH, verifyChain } from '../../src/audit';

export interface Problem {
  file: string;
  callSid: string;
  seq: number;
  /** a link that fails (sequence, link, unknown-key, mac), one the service reported, or an exports' comparison */
  problem: string;
}

export interface Report {
  trails: number;
  entries: number;
  macChecked: boolean;
  problems: Problem[];
}

interface Line {
  callSid?: unknown;
  verified?: unknown;
  brokenAt?: { seq?: unknown; reason?: unknown };
  entry?: AuditEntry;
}

/** the ring AUDIT_KEY's text describes, derived as the service derives it (AuditKey.fromSecret) */
export function ringFrom(auditKey: string | undefined): AuditKeyRing | null {
  const texts = (auditKey ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  return texts.length ? new AuditKeyRing(texts.map((k) => AuditKey.fromSecret(k))) : null;
}

/** each export's trails by call, entries in the order given */
function parseExport(file: string, text: string): Map<string, { entries: AuditEntry[]; reported?: string }> {
  const trails = new Map<string, { entries: AuditEntry[]; reported?: string }>();
  text.split('\n').forEach((raw, i) => {
    if (!raw.trim()) return;
    let line: Line;
    try {
      line = JSON.parse(raw) as Line;
    } catch {
      throw new Error(`${file}:${i + 1}: not a JSON line`);
    }
    if (typeof line.callSid !== 'string') throw new Error(`${file}:${i + 1}: no callSid`);
    const t = trails.get(line.callSid) ?? { entries: [] };
    trails.set(line.callSid, t);
    if (line.entry && typeof line.entry === 'object') t.entries.push(line.entry);
    else t.reported = typeof line.brokenAt?.reason === 'string' ? line.brokenAt.reason : 'no-entry';
  });
  return trails;
}

/** links and numbering only: what can be checked without the key */
function linksOnly(entries: AuditEntry[]): { seq: number; reason: string } | null {
  let prev = GENESIS_HASH;
  for (let i = 0; i < entries.length; i++) {
    if (entries[i].seq !== i + 1) return { seq: i + 1, reason: 'sequence' };
    if (entries[i].prev !== prev) return { seq: i + 1, reason: 'link' };
    prev = String(entries[i].hash);
  }
  return null;
}

/** Checks `exports` (file name and NDJSON text, oldest first), each alone and each against those before it. */
export function verifyExports(exports: { file: string; text: string }[], ring: AuditKeyRing | null): Report {
  const problems: Problem[] = [];
  const seen = new Map<string, { file: string; hashes: string[] }>();
  let entries = 0;
  for (const { file, text } of exports) {
    for (const [callSid, t] of parseExport(file, text)) {
      entries += t.entries.length;
      if (t.reported) problems.push({ file, callSid, seq: 1, problem: `reported-${t.reported}` });
      const broken = ring ? verifyChain(ring, callSid, t.entries) : linksOnly(t.entries);
      if (broken) problems.push({ file, callSid, seq: broken.seq, problem: broken.reason });
      const hashes = t.entries.map((e) => String(e.hash));
      const before = seen.get(callSid);
      if (before) {
        const differs = hashes.findIndex((h, i) => i < before.hashes.length && h !== before.hashes[i]);
        if (differs >= 0) problems.push({ file, callSid, seq: differs + 1, problem: `rewritten-since-${before.file}` });
        else if (hashes.length < before.hashes.length) problems.push({ file, callSid, seq: hashes.length + 1, problem: `truncated-since-${before.file}` });
      }
      if (!before || hashes.length >= before.hashes.length) seen.set(callSid, { file, hashes });
    }
  }
  return { trails: seen.size, entries, macChecked: ring !== null, problems };
}

if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: npm run audit:verify -- export.ndjson [later-export.ndjson …] (AUDIT_KEY in the environment checks each MAC)');
    process.exit(2);
  }
  try {
    const report = verifyExports(
      files.map((file) => ({ file, text: fs.readFileSync(file, 'utf8') })),
      ringFrom(process.env.AUDIT_KEY),
    );
    for (const p of report.problems) console.log(JSON.stringify(p));
    console.error(
      `${report.trails} trails, ${report.entries} entries, ${report.problems.length} problems` +
        (report.macChecked ? '' : ' (AUDIT_KEY unset: links and numbering only, MACs unchecked)'),
    );
    process.exit(report.problems.length > 0 ? 1 : 0);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(2);
  }
}
