import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { registerAccountRecordings } from './account-recordings';
import type { Call } from './call';
import { abortableSleep, type EmulatorContext } from './context';
import { startOutboundCall, type CallRegistry } from './dialer';
import { rfc2822 } from './ids';
import { takeFault, type RestFaultName } from './faults';
import type { PauseBehavior, Recording, RecordingStatus } from './recording';
import { RECORDING_STATUS_EVENTS } from './twiml';

/**
 * The fake of Twilio's 2010-04-01 REST API: the Account, Calls, Recordings and IncomingPhoneNumbers
 * resources the service uses, with Twilio's Basic auth, form bodies and error JSON.
 */

type Params = Record<string, string | string[] | undefined>;

const accountParam = z.object({ ac: z.string().optional() });

/** form (or query) parameters; a repeated key arrives as an array */
const formParams = z.record(z.string(), z.union([z.string(), z.array(z.string())]));

/** the request's form body (query for GET), parsed; anything else counts as no params */
function paramsOf(req: FastifyRequest): Params {
  const parsed = formParams.safeParse(req.method === 'GET' ? req.query : req.body);
  return parsed.success ? parsed.data : {};
}

interface AccountParams {
  ac: string;
}

const API = '/2010-04-01/Accounts/:ac';
const RECORDING_TRACKS: readonly string[] = ['inbound', 'outbound', 'both'];
const RECORDING_TRIMS: readonly string[] = ['trim-silence', 'do-not-trim'];
const CURRENT_RECORDING = 'Twilio.CURRENT';

export function buildRestServer(ctx: EmulatorContext, reg: CallRegistry): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  void app.register(formbody);

  app.addHook('onRequest', async (req, reply) => {
    if (!authorized(ctx, req.headers.authorization)) {
      void reply.header('WWW-Authenticate', 'Basic realm="Twilio API"');
      return sendError(reply, 401, 20003, 'Authenticate');
    }
    const ac = accountParam.safeParse(req.params).data?.ac;
    if (ac !== undefined && ac !== ctx.accountSid) {
      return sendError(reply, 404, 20404, `The requested resource ${pathOf(req)} was not found`);
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const params = flatParams(paramsOf(req));
    const callSid = /\/Calls\/(CA[0-9a-f]{32})/.exec(req.url)?.[1];
    ctx.timeline.add({ type: 'rest', callSid, method: req.method, path: pathOf(req), params, status: reply.statusCode });
  });

  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 20404, `The requested resource ${pathOf(req)} was not found`));

  /** answers the request itself when a fault applies; true when it did */
  async function fault(name: RestFaultName, reply: FastifyReply): Promise<boolean> {
    const f = takeFault(ctx.faults, name);
    if (!f) return false;
    if (f.delayMs) await abortableSleep(f.delayMs, ctx.closing);
    if (!f.status) return false;
    sendError(reply, f.status, 20000 + f.status, 'Injected fault');
    return true;
  }

  function findCall(req: FastifyRequest, reply: FastifyReply, sid: string | undefined): Call | undefined {
    const call = sid ? reg.calls.get(sid) : undefined;
    if (!call) sendError(reply, 404, 20404, `The requested resource ${pathOf(req)} was not found`);
    return call;
  }

  // ---- Accounts ----

  // the account the credentials name, as Twilio answers it (auth token included: Twilio's resource
  // carries it); another account's SID is not found (the onRequest hook lets `:acFile` through)
  const accountCreated = new Date();
  app.get<{ Params: { acFile: string } }>('/2010-04-01/Accounts/:acFile', async (req, reply) => {
    if (jsonSid(req.params.acFile) !== ctx.accountSid) return sendError(reply, 404, 20404, `The requested resource ${pathOf(req)} was not found`);
    if (await fault('accountFetch', reply)) return reply;
    const api = `/2010-04-01/Accounts/${ctx.accountSid}`;
    return {
      auth_token: ctx.authToken,
      date_created: rfc2822(accountCreated),
      date_updated: rfc2822(accountCreated),
      friendly_name: 'tonewall emulator',
      owner_account_sid: ctx.accountSid,
      sid: ctx.accountSid,
      status: 'active',
      subresource_uris: {
        calls: `${api}/Calls.json`,
        incoming_phone_numbers: `${api}/IncomingPhoneNumbers.json`,
        recordings: `${api}/Recordings.json`,
      },
      type: 'Full',
      uri: `${api}.json`,
    };
  });

  // ---- Calls ----

  app.post<{ Params: AccountParams }>(`${API}/Calls.json`, async (req, reply) => {
    if (await fault('callsCreate', reply)) return reply;
    const body = paramsOf(req);
    const to = first(body.To);
    const from = first(body.From);
    const url = first(body.Url);
    const twiml = first(body.Twiml);
    if (!to) return sendError(reply, 400, 21201, "No 'To' number is specified");
    // a call goes to a phone number, a client: identity or a sip: address; Twilio refuses any other scheme (a queue:NAME is no party)
    if (/^[a-z][a-z0-9+.-]*:/i.test(to) && !/^(client|sip):/i.test(to)) return sendError(reply, 400, 21211, `Invalid 'To' Phone Number: ${to}`);
    if (!from) return sendError(reply, 400, 21603, "A 'From' phone number is required.");
    if (!url && !twiml) return sendError(reply, 400, 21205, 'Url parameter is required.');
    if (twiml !== undefined && twiml.length > INLINE_TWIML_MAX_CHARS) return twimlTooLarge(reply);
    const statusUrl = first(body.StatusCallback);
    const call = startOutboundCall(ctx, reg, {
      to,
      from,
      url,
      twiml,
      method: (first(body.Method) ?? 'POST').toUpperCase(),
      statusCallback: statusUrl
        ? {
            url: statusUrl,
            method: (first(body.StatusCallbackMethod) ?? 'POST').toUpperCase(),
            events: words(body.StatusCallbackEvent, ['completed']),
          }
        : undefined,
    });
    // the call as it was placed (queued), whenever the answer goes
    const placed = call.toJson();
    const late = takeFault(ctx.faults, 'callsCreateAnswer');
    if (late?.delayMs) await abortableSleep(late.delayMs, ctx.closing);
    return reply.code(201).send(placed);
  });

  app.get<{ Params: AccountParams }>(`${API}/Calls.json`, async (req) => {
    const calls = [...reg.calls.values()].map((c) => c.toJson());
    return listPage('calls', calls, pathOf(req));
  });

  app.get<{ Params: AccountParams & { callFile: string } }>(`${API}/Calls/:callFile`, async (req, reply) => {
    const call = findCall(req, reply, jsonSid(req.params.callFile));
    if (!call) return reply;
    if (await fault('callsFetch', reply)) return reply;
    return call.toJson();
  });

  app.post<{ Params: AccountParams & { callFile: string } }>(`${API}/Calls/:callFile`, async (req, reply) => {
    const call = findCall(req, reply, jsonSid(req.params.callFile));
    if (!call) return reply;
    if (await fault('callsUpdate', reply)) return reply;
    const body = paramsOf(req);
    const status = first(body.Status);
    const twiml = first(body.Twiml);
    const url = first(body.Url);
    if (status) {
      if (status !== 'completed' && status !== 'canceled') {
        return sendError(reply, 400, 20001, `Invalid Status: ${status}`);
      }
      const answered = call.status === 'in-progress' || (call.direction === 'inbound' && call.status === 'ringing');
      if (!call.finished && (status === 'completed' || !answered)) {
        void call.finish(answered ? 'completed' : 'canceled');
      }
      return call.toJson();
    }
    if (twiml !== undefined || url !== undefined) {
      if (twiml !== undefined && twiml.length > INLINE_TWIML_MAX_CHARS) return twimlTooLarge(reply);
      if (!call.live) return sendError(reply, 400, 21220, 'Call is not in-progress. Cannot redirect.');
      call.redirect(
        twiml !== undefined
          ? { kind: 'twiml', twiml }
          : { kind: 'fetch', url: url ?? '', method: (first(body.Method) ?? 'POST').toUpperCase(), purpose: 'redirect' },
      );
    }
    return call.toJson();
  });

  // ---- Recordings ----

  app.post<{ Params: AccountParams & { ca: string } }>(`${API}/Calls/:ca/Recordings.json`, async (req, reply) => {
    const call = findCall(req, reply, req.params.ca);
    if (!call) return reply;
    if (await fault('recordingsCreate', reply)) return reply;
    if (!call.live) return sendError(reply, 400, 21220, 'Requested resource is not eligible for recording');
    const body = paramsOf(req);
    const channels = first(body.RecordingChannels) ?? 'mono';
    if (channels !== 'mono' && channels !== 'dual') {
      return sendError(reply, 400, 20001, `Invalid RecordingChannels: ${channels}`);
    }
    // the REST API refuses what its TwiML only warns of (13621): Twilio's events are in-progress, completed, absent
    // RecordingTrack is inbound, outbound or both; Trim trim-silence or do-not-trim (the Recording
    // resource's create parameters, https://www.twilio.com/docs/voice/api/recording): anything else is refused
    const track = first(body.RecordingTrack) ?? 'both';
    if (!RECORDING_TRACKS.includes(track)) return sendError(reply, 400, 20001, `Invalid RecordingTrack: ${track}`);
    const trim = first(body.Trim) ?? 'do-not-trim';
    if (!RECORDING_TRIMS.includes(trim)) return sendError(reply, 400, 20001, `Invalid Trim: ${trim}`);
    const events = words(body.RecordingStatusCallbackEvent, ['completed']);
    const unknownEvent = events.find((e) => !RECORDING_STATUS_EVENTS.includes(e));
    if (unknownEvent !== undefined) return sendError(reply, 400, 20001, `Invalid RecordingStatusCallbackEvent: ${unknownEvent}`);
    const rec = call.startRecording({
      channels,
      statusCallback: first(body.RecordingStatusCallback),
      statusCallbackMethod: first(body.RecordingStatusCallbackMethod)?.toUpperCase() === 'GET' ? 'GET' : 'POST',
      statusCallbackEvents: events,
      trim,
      track,
      source: 'StartCallRecordingAPI',
    });
    return reply.code(201).send(rec.toJson(ctx.accountSid));
  });

  app.get<{ Params: AccountParams & { ca: string } }>(`${API}/Calls/:ca/Recordings.json`, async (req, reply) => {
    const call = findCall(req, reply, req.params.ca);
    if (!call) return reply;
    if (await fault('recordingsList', reply)) return reply;
    // every recording of the call, each with its own SID and status (several may run at once)
    return listPage(
      'recordings',
      call.recordings.map((r) => r.toJson(ctx.accountSid)),
      pathOf(req),
    );
  });

  function findRecording(call: Call, recFile: string, activeOnly: boolean): Recording | undefined {
    const sid = recFile.endsWith('.json') ? recFile.slice(0, -'.json'.length) : undefined;
    if (sid === CURRENT_RECORDING) return call.currentRecording;
    const rec = call.recordings.find((r) => r.sid === sid);
    return rec && (!activeOnly || rec.active) ? rec : undefined;
  }

  app.get<{ Params: AccountParams & { ca: string; recFile: string } }>(`${API}/Calls/:ca/Recordings/:recFile`, async (req, reply) => {
    const call = findCall(req, reply, req.params.ca);
    if (!call) return reply;
    const rec = findRecording(call, req.params.recFile, false);
    if (!rec) return sendError(reply, 404, 20404, `The requested resource ${pathOf(req)} was not found`);
    return rec.toJson(ctx.accountSid);
  });

  app.post<{ Params: AccountParams & { ca: string; recFile: string } }>(`${API}/Calls/:ca/Recordings/:recFile`, async (req, reply) => {
    const call = findCall(req, reply, req.params.ca);
    if (!call) return reply;
    const body = paramsOf(req);
    const status = first(body.Status);
    if (status !== 'paused' && status !== 'in-progress' && status !== 'stopped') {
      return sendError(reply, 400, 20001, `Invalid Status: ${status ?? ''}`);
    }
    // PauseBehavior is skip or silence (the default); Twilio refuses any other value
    const behavior = first(body.PauseBehavior);
    if (behavior !== undefined && behavior !== 'skip' && behavior !== 'silence') return sendError(reply, 400, 20001, `Invalid PauseBehavior: ${behavior}`);
    const notFound = (): FastifyReply => sendError(reply, 404, 20404, `The requested resource ${pathOf(req)} was not found`);
    // Twilio takes real-time operations only on a call in progress (21220), a ringing or ended
    // one included; on a live call, Twilio.CURRENT with no recording running is a 404
    if (!call.live) return sendError(reply, 400, 21220, 'Call is not in-progress. Cannot update recording.');
    // Twilio.CURRENT names no one recording when several are active on the call (error 16108)
    if (req.params.recFile === `${CURRENT_RECORDING}.json` && call.recordings.filter((r) => r.active).length > 1) {
      return sendError(reply, 400, 16108, 'Voice Recording: Request failed due to concurrent recordings');
    }
    if (!findRecording(call, req.params.recFile, true)) return notFound();
    const faultName = status === 'paused' ? 'recordingPause' : status === 'in-progress' ? 'recordingResume' : 'recordingStop';
    if (faultName && (await fault(faultName, reply))) return reply;
    // Look again: the call may have ended while a fault delayed the answer.
    if (!call.live) return sendError(reply, 400, 21220, 'Call is not in-progress. Cannot update recording.');
    const rec = findRecording(call, req.params.recFile, true);
    if (!rec) return notFound();
    // it applies only to a pause (Twilio: "only applies when setting status is set to paused")
    const pauseBehavior: PauseBehavior | undefined = status === 'paused' ? ((behavior as PauseBehavior | undefined) ?? 'silence') : undefined;
    void call.updateRecording(rec, status as RecordingStatus, pauseBehavior);
    // the update that stops it answers `stopped`; fetched or listed after, it is `processing`, then `completed` or `absent`
    return rec.toJson(ctx.accountSid, { stoppedNow: status === 'stopped' });
  });

  // ---- Recordings of the account (fetched and deleted by SID) ----
  registerAccountRecordings(app, ctx, reg, { fault, sendError, pathOf, paramsOf });

  // ---- IncomingPhoneNumbers ----

  app.get<{ Params: AccountParams }>(`${API}/IncomingPhoneNumbers.json`, async (req) => {
    const q = paramsOf(req);
    const phoneNumber = first(q.PhoneNumber);
    const friendlyName = first(q.FriendlyName);
    const numbers = [...reg.numbers.bySid.values()].filter(
      (n) => (!phoneNumber || n.phoneNumber === phoneNumber) && (!friendlyName || n.phoneNumber === friendlyName),
    );
    return listPage(
      'incoming_phone_numbers',
      numbers.map((n) => reg.numbers.toJson(n, ctx.accountSid)),
      pathOf(req),
    );
  });

  app.get<{ Params: AccountParams & { pnFile: string } }>(`${API}/IncomingPhoneNumbers/:pnFile`, async (req, reply) => {
    const n = reg.numbers.bySid.get(jsonSid(req.params.pnFile) ?? '');
    if (!n) return sendError(reply, 404, 20404, `The requested resource ${pathOf(req)} was not found`);
    return reg.numbers.toJson(n, ctx.accountSid);
  });

  app.post<{ Params: AccountParams & { pnFile: string } }>(`${API}/IncomingPhoneNumbers/:pnFile`, async (req, reply) => {
    const n = reg.numbers.bySid.get(jsonSid(req.params.pnFile) ?? '');
    if (!n) return sendError(reply, 404, 20404, `The requested resource ${pathOf(req)} was not found`);
    const body = paramsOf(req);
    const set = (key: string): string | undefined => first(body[key]);
    n.voiceUrl = set('VoiceUrl') ?? n.voiceUrl;
    n.voiceMethod = set('VoiceMethod')?.toUpperCase() ?? n.voiceMethod;
    n.statusCallback = set('StatusCallback') ?? n.statusCallback;
    n.statusCallbackMethod = set('StatusCallbackMethod')?.toUpperCase() ?? n.statusCallbackMethod;
    return reg.numbers.toJson(n, ctx.accountSid);
  });

  return app;
}

function authorized(ctx: EmulatorContext, header: string | undefined): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 && decoded.slice(0, colon) === ctx.accountSid && decoded.slice(colon + 1) === ctx.authToken;
}

/** Twilio's error JSON */
/** the longest `Twiml` a call create or update takes: longer is error 32018 */
export const INLINE_TWIML_MAX_CHARS = 4000;

function twimlTooLarge(reply: FastifyReply): FastifyReply {
  return sendError(reply, 400, 32018, `Twiml size exceeded maximum allowed value of ${INLINE_TWIML_MAX_CHARS} characters`);
}

function sendError(reply: FastifyReply, status: number, code: number, message: string): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
}

function listPage(key: string, items: unknown[], uri: string): Record<string, unknown> {
  return {
    [key]: items,
    end: Math.max(0, items.length - 1),
    first_page_uri: `${uri}?PageSize=50&Page=0`,
    next_page_uri: null,
    page: 0,
    page_size: 50,
    previous_page_uri: null,
    start: 0,
    uri,
  };
}

function pathOf(req: FastifyRequest): string {
  const q = req.url.indexOf('?');
  return q < 0 ? req.url : req.url.slice(0, q);
}

function jsonSid(file: string): string | undefined {
  return file.endsWith('.json') ? file.slice(0, -'.json'.length) : undefined;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** a multi-valued param: repeated keys (twilio-node) or one space-separated value */
function words(v: string | string[] | undefined, fallback: string[]): string[] {
  if (v === undefined) return fallback;
  const list = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(/[\s,]+/)).filter(Boolean);
  return list.length ? list : fallback;
}

function flatParams(p: Params): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k] = v;
  return out;
}
