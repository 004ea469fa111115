/**
 * `GET /v1/calls/:callSid/audit` (CONTRACT §5): a supervisor's (or admin's) view of one call's
 * PII-free audit trail, whether its chain holds and, when not, the first entry that breaks it.
 *
 * `GET /v1/audit/export` (admin, issue 11; CONTRACT §7): every trail that has an entry in a range of
 * days (it began, or was appended to, then: the whole trail, once, so that it verifies from its
 * first entry), as NDJSON for a SIEM, one line per entry: `{callSid, verified, entry}`, with `brokenAt` when the
 * trail does not verify; an unreadable trail, or one the day index names that the store no
 * longer holds (`missing`: deleted), gets one `{callSid, verified: false, brokenAt}` line with no entry. Kept outside the store, the export is what shows a trail cut short or deleted
 * by someone who can write Redis.
 *
 * `POST /v1/audit/actors` (admin): which `actor` names a user. Entries of a person's action name
 * them as `<role>:<digest>`, the digest an HMAC of their token's `sub` under the audit key
 * (AuditTrail.actor), so the trail holds no `sub`; the key never leaves the service, so the
 * mapping back is asked here: `{sub}` in, its digest under each key of the ring (by `kid`) out.
 * An entry names that user when its actor ends with the digest of its own `kid`. The `sub` is
 * sent in the body, never the URL, so no access log or proxy keeps it.
 *
 * A call whose record is held and whose trail is not answers `verified: false` with `brokenAt:
 * {seq: 1, reason: 'missing'}`, as the export reports a deleted trail: the record is created
 * with its trail, in one atomic write, and lives far shorter, so its trail was deleted.
 *
 * Order of checks: token (401), then whether the token may see the call (404, before anything
 * else can leak that the call exists), then role (403). The trail outlives the call record (it
 * is kept for assessors after the call expired or its caller was erased), so a supervisor or
 * admin still reads it when the record is gone; an agent never can.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { type TokenAuth, canSee, requireRole } from '../auth/tokens';
import type { CallRepository } from '../calls/repository';
import { Errors } from '../errors';
import type { AuditTrail } from '../audit/trail';
import { noStore } from '../security-headers';

const params = z.object({ callSid: z.string().regex(/^[A-Za-z0-9]{2,64}$/) });

const DAY_MS = 86_400_000;
const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a day as YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'a day as YYYY-MM-DD');
const actorLookup = z.object({ sub: z.string().min(1).max(128) }).strict();
const exportQuery = z.object({ from: day.optional(), to: day.optional() }).strict();

function* days(from: string, to: string): Generator<string> {
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_MS) yield new Date(t).toISOString().slice(0, 10);
}

export function auditRoutes(deps: { auth: TokenAuth; calls: CallRepository; audit: AuditTrail; retentionDays: number; now?: () => Date }): FastifyPluginAsync {
  return async (app) => {
    noStore(app);
    app.get('/v1/calls/:callSid/audit', async (request) => {
      const principal = await deps.auth.fromRequest(request);
      const parsed = params.safeParse(request.params);
      if (!parsed.success) throw Errors.callNotFound();
      const { callSid } = parsed.data;
      const call = await deps.calls.get(callSid);
      const visible = call ? canSee(principal, call) : principal.role !== 'agent';
      if (!visible) throw Errors.callNotFound();
      requireRole(principal, 'supervisor', 'admin');
      // a call's record is created with its trail (twilio/first-webhook.ts, twilio/call-creation.ts)
      // and lives far shorter: a record whose trail the store does not hold names a trail deleted
      // (`missing`)
      const result = await deps.audit.verify(callSid, { listed: call !== null });
      if (!call && result.entries.length === 0) throw Errors.callNotFound();
      return result;
    });

    app.post('/v1/audit/actors', async (request) => {
      requireRole(await deps.auth.fromRequest(request), 'admin');
      const body = actorLookup.safeParse(request.body);
      if (!body.success) throw Errors.badRequest({ detail: 'actor lookup: a body {"sub": "…"}' });
      const digests = Object.entries(deps.audit.actorDigests(body.data.sub)).map(([kid, digest]) => ({ kid, digest }));
      return { digests };
    });

    app.get('/v1/audit/export', async (request, reply) => {
      const principal = await deps.auth.fromRequest(request);
      requireRole(principal, 'admin');
      const q = exportQuery.safeParse(request.query ?? {});
      if (!q.success) throw Errors.badRequest({ detail: `export query: ${q.error.issues[0].message}` });
      const today = (deps.now ?? (() => new Date()))().toISOString().slice(0, 10);
      const earliest = new Date(Date.parse(`${today}T00:00:00Z`) - deps.retentionDays * DAY_MS).toISOString().slice(0, 10);
      const from = q.data.from && q.data.from > earliest ? q.data.from : earliest;
      const to = q.data.to && q.data.to < today ? q.data.to : today;
      request.log.info({ actor: deps.audit.actor(principal), from, to }, 'audit export');
      const audit = deps.audit;
      async function* lines(): AsyncGenerator<string> {
        // what the retention's first day's index still lists: it expires during that day, while a
        // trail written to since is kept longer, so a trail it no longer lists was not sent under it
        let firstDay: ReadonlySet<string> = new Set();
        for (const d of days(from, to)) {
          // a trail a day's index names is held as long as that index: one not held was deleted
          // (the first day of the retention excepted, whose trails expire during it)
          const listed = d > earliest;
          const sids = await audit.callsOn(d);
          if (d === earliest) firstDay = new Set(sids);
          const sentOn = (day: string, callSid: string) => day >= from && day < d && (day > earliest || firstDay.has(callSid));
          for (const callSid of sids) {
            const { entries, verified, brokenAt } = await audit.verify(callSid, { listed });
            // a trail written to on several days of the range is listed under each: sent once,
            // under the first of them it has an entry on (and is listed under)
            if (entries.some((e) => typeof e.at === 'string' && sentOn(e.at.slice(0, 10), callSid))) continue;
            const trail = verified ? { callSid, verified } : { callSid, verified, brokenAt };
            for (const entry of entries) yield JSON.stringify({ ...trail, entry }) + '\n';
            // a trail with nothing to list that does not verify (unreadable, missing) still gets its line
            if (entries.length === 0 && !verified) yield JSON.stringify(trail) + '\n';
          }
        }
      }
      return reply.type('application/x-ndjson; charset=utf-8').send(Readable.from(lines()));
    });
  };
}
