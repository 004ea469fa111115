import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Call } from './call';
import type { EmulatorContext } from './context';
import type { CallRegistry } from './dialer';
import type { RestFaultName } from './faults';
import type { Recording } from './recording';

/**
 * The account's Recording resource, `/2010-04-01/Accounts/{AC}/Recordings/{RE}.json`: fetched and
 * deleted by SID, whichever call it is of (rest.ts registers it; the call's own list and updates
 * are there).
 *
 * What Twilio's documentation says of it, and what the emulator does:
 *
 * - DELETE answers 204 with no body (Recording resource, "Delete a Recording resource":
 *   https://www.twilio.com/docs/voice/api/recording; the OpenAPI description has no other answer).
 * - A deleted recording is soft-deleted: "By default, fetching a deleted recording returns not
 *   found and deleted recordings are not returned in the list"; with `IncludeSoftDeleted=true` it
 *   is fetched with status `deleted`, its metadata kept 40 days (Twilio changelog, 2022-03-03,
 *   "Fetch deleted call recording metadata":
 *   https://www.twilio.com/en-us/changelog/fetch-deleted-call-recording-metadata-; twilio-node's
 *   RecordingContextFetchOptions.includeSoftDeleted). So a GET or a second DELETE of it is
 *   Twilio's 404 (error 20404); a fetch with the flag shows it `deleted`.
 * - A recording still in progress, paused or processing: Twilio's documentation gives no answer
 *   of its own for one. The nearest it documents is error 20009, "Cannot delete this resource
 *   before it is complete" (https://www.twilio.com/docs/api/errors/20009), written for a call or
 *   message "before all of Twilio's systems finished processing it", whose advice is to wait (a
 *   minute, then several) and try again; that page does not give the HTTP status. The emulator
 *   answers 400 with 20009 for such a recording, as an assumption: the service must not depend
 *   on the status or code (privacy/recordings.ts takes any answer but 204 and 20404 as "not deleted
 *   yet", tried again later).
 */
export interface AccountRecordingHelpers {
  fault(name: RestFaultName, reply: FastifyReply): Promise<boolean>;
  sendError(reply: FastifyReply, status: number, code: number, message: string): FastifyReply;
  pathOf(req: FastifyRequest): string;
  /** the request's query (GET) or form (DELETE) parameters */
  paramsOf(req: FastifyRequest): Record<string, string | string[] | undefined>;
}

const API = '/2010-04-01/Accounts/:ac';

export function registerAccountRecordings(app: FastifyInstance, ctx: EmulatorContext, reg: CallRegistry, h: AccountRecordingHelpers): void {
  const notFound = (req: FastifyRequest, reply: FastifyReply): FastifyReply =>
    h.sendError(reply, 404, 20404, `The requested resource ${h.pathOf(req)} was not found`);

  /** the recording of any call of the account's with this SID (`RE….json`): a deleted one only when `softDeleted` */
  function find(recFile: string, softDeleted = false): { call: Call; rec: Recording } | undefined {
    const sid = recFile.endsWith('.json') ? recFile.slice(0, -'.json'.length) : undefined;
    for (const call of reg.calls.values()) {
      const rec = call.recordings.find((r) => r.sid === sid) ?? (softDeleted ? call.deletedRecordings.find((r) => r.sid === sid) : undefined);
      if (rec) return { call, rec };
    }
    return undefined;
  }

  app.get<{ Params: { ac: string; recFile: string } }>(`${API}/Recordings/:recFile`, async (req, reply) => {
    const flag = h.paramsOf(req).IncludeSoftDeleted;
    const found = find(req.params.recFile, (Array.isArray(flag) ? flag[0] : flag) === 'true');
    if (!found) return notFound(req, reply);
    return found.rec.toJson(ctx.accountSid);
  });

  app.delete<{ Params: { ac: string; recFile: string } }>(`${API}/Recordings/:recFile`, async (req, reply) => {
    if (!find(req.params.recFile)) return notFound(req, reply);
    if (await h.fault('recordingDelete', reply)) return reply;
    // looked up again: a fault's delay may have let it end, or another request delete it
    const found = find(req.params.recFile);
    if (!found) return notFound(req, reply);
    if (!(found.rec.status === 'stopped' && found.rec.processed)) {
      return h.sendError(reply, 400, 20009, 'Cannot delete this resource before it is complete');
    }
    found.call.deleteRecording(found.rec);
    return reply.code(204).send();
  });
}
