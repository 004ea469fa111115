/**
 * `POST /twilio/capture/:flowId?return=<url>` (issue 13): secure capture as a step of another
 * app's call, as Twilio's <Pay> is. The app answers a call with
 * `<Redirect method="POST">{PUBLIC_URL}/twilio/capture/{flowId}?return=…</Redirect>`; Twilio
 * signs that request over the full URL, query included, so it passes the same signature check
 * and replay guard as every webhook (serving.ts) before this handler runs.
 *
 * Refused with an apology and a hangup, audited, and nothing captured: an unknown flow, a return
 * URL not under CAPTURE_RETURN_URLS, or no CAPTURE_RESULT_SECRET to sign the result with.
 * Otherwise the flow runner runs the flow's steps with every recording the app runs on the call
 * paused (each by its SID) around sensitive fields, and dropin/service.ts returns the call with
 * the result; a step that fails returns it with `internal-error` (dropin-rescue.ts).
 */
import { isCallSid } from '../sids';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { CallRepository } from '../calls/repository';
import type { Config } from '../config';
import { allowedReturnUrl } from '../dropin/return-urls';
import { dropinFlow } from '../dropin/outcome';
import type { PausingRequest } from '../dropin/held-pauses';
import type { DropinService } from '../dropin/service';
import type { FlowRegistry } from '../flows/load';
import type { Flow } from '../flows/schema';
import type { FlowRunner } from './runner';
import type { AuditSink } from '../recording/controller';
import { voiceParams } from './params';
import type { Identify } from './replay-identity';
import type { ReplayIdentity, StoredAnswer } from './replay';
import { sayAndHangUpTwiml, TWIML_CONTENT_TYPE } from './twiml';

export interface CaptureRouteDeps {
  config: Config;
  flows: FlowRegistry;
  runner: FlowRunner;
  dropin: DropinService;
  audit: AuditSink;
  calls: CallRepository;
}

const captureQuery = z.object({ return: z.string().optional() });
const FLOW_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** the flow a capture URL names, if one is loaded */
export function captureFlow(flows: FlowRegistry, flowId: string): Flow | undefined {
  return FLOW_ID.test(flowId) ? flows.byId(flowId) : undefined;
}

/** the capture URL's `return`, if it is under CAPTURE_RETURN_URLS */
export function captureReturn(query: unknown, config: Config): URL | undefined {
  const q = captureQuery.safeParse(query ?? {});
  return allowedReturnUrl(q.success ? q.data.return : undefined, config.capture.returnUrls);
}

/** once per call and flow: a Twilio retry (or a replayed request) gets the first answer */
export const captureIdentity =
  (flowId: string): Identify =>
  (params) => {
    const sid = params.CallSid;
    return isCallSid(sid) ? { callSid: sid, parts: ['capture', flowId] } : null;
  };

/**
 * Before the replay guard: a capture redirected here on a call whose capture already returned is
 * a second capture, not a retry of the first (a retry comes before the first one's end), so it is
 * refused rather than answered from the first capture's remembered answers. One capture per call.
 * `flow`: the flow the app redirected to, whose language and voice the refusal is said in.
 */
export const captureAgain =
  (calls: CallRepository, audit: AuditSink, log: Logger, flow?: Flow) =>
  async (_params: Record<string, string>, identity: ReplayIdentity): Promise<StoredAnswer | null> => {
    const s = await calls.get(identity.callSid);
    if (!s?.dropin?.result) return null;
    await audit.append(identity.callSid, { type: 'dropin.refused', reason: 'capture-already-returned' });
    log.child({ callSid: identity.callSid }).warn({ reason: 'capture-already-returned' }, 'drop-in capture refused');
    return { status: 200, contentType: TWIML_CONTENT_TYPE, body: refusedCaptureTwiml(flow) };
  };

/**
 * The refusal: an apology and a hangup, in the language and voice of the flow the app asked for
 * (the one it chose for this caller); English for a flow id no flow has.
 */
export function refusedCaptureTwiml(flow?: Flow): string {
  return sayAndHangUpTwiml('capture-refused', flow);
}

/**
 * `outlived`: the call's record is gone but its audit trail is there (first-webhook-routes.ts): a capture that
 * returned before it created a record (its first step failed and it went back with
 * `internal-error`) redirected here again, or a request resent after the call was erased or
 * expired. Either is a call tonewall already knew: refused as one, with the apology, never a
 * silent hangup of a caller the app is still talking to. `request`: this request's handling, the
 * app's recordings it pauses held as its own (dropin/held-pauses.ts), for its rescue.
 */
export function captureHandler(d: CaptureRouteDeps) {
  return async (flowId: string, raw: Record<string, string>, query: unknown, log: Logger, outlived: boolean, request: PausingRequest): Promise<string> => {
    const p = voiceParams.parse(raw);
    const flow = captureFlow(d.flows, flowId);
    const refuse = async (reason: string): Promise<string> => {
      await d.audit.append(p.CallSid, { type: 'dropin.refused', reason });
      log.warn({ reason }, 'drop-in capture refused');
      return refusedCaptureTwiml(flow);
    };
    if (!flow) return refuse('unknown-flow');
    const returnUrl = captureReturn(query, d.config);
    if (!returnUrl) return refuse('return-url-not-allowed');
    if (!d.dropin.configured) return refuse('no-result-secret');
    // one capture per call: a call tonewall already holds (an earlier capture, or a call to one
    // of its own numbers) would resume that session, not start this one. (captureAgain, before the
    // replay guard, covers the one case the guard would answer wrongly: the same flow again after
    // its capture returned; this check is behind the guard, so a replay of a refusal is answered
    // as the first one was and audited once.)
    if (outlived || (await d.calls.get(p.CallSid))) return refuse('call-already-known');
    const outbound = typeof raw.Direction === 'string' && raw.Direction.startsWith('outbound');
    log.info({ flowId: flow.id, outbound }, 'drop-in capture started');
    let known = false;
    const twiml = await d.runner.start(
      dropinFlow(flow),
      // the party keying is the caller of an inbound call and the called party of an outbound
      // one (an app that dialled its customer): that number is the subject, masked and sealed,
      // and the business's own number is the one kept as `to`
      outbound
        ? { callSid: p.CallSid, accountSid: p.AccountSid, from: p.To, to: p.From }
        : { callSid: p.CallSid, accountSid: p.AccountSid, from: p.From, to: p.To },
      log,
      // the app's recordings: each one in progress, paused by its SID before any sensitive prompt
      { dropin: { returnUrl: returnUrl.toString() }, recording: await d.dropin.appRecording(p.CallSid, log) },
      // what this request pauses is its own: should it fail, its rescue resumes that and nothing else (dropin-rescue.ts)
      request,
      // another capture of the call (another flow: the replay guard holds back the same one) created its record since the check above
      () => {
        known = true;
        return refuse('call-already-known');
      },
    );
    // from its first prompt on, a caller who hangs up is noticed (service.ts), by any instance
    if (!known) await d.dropin.watch(p.CallSid);
    return twiml;
  };
}
