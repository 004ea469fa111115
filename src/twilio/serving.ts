/**
 * How every Twilio webhook is served (CONTRACT §2): its signature first (missing 400, wrong 403,
 * nothing else runs), then the replay guard (replay.ts), then the route's handler. Whatever fails
 * inside a voice route answers the safe apology TwiML (or the route's own `safe` answer, a dial's
 * end: dial-status.ts), never a 5xx, never dead air; its route's
 * `rescue` may answer instead: a drop-in capture's call goes back to its app (dropin-rescue.ts),
 * and a sensitive stretch's recordings are resumed before the apology (stretch-rescue.ts). A
 * route with a rescue notes each signed request as it arrives (seen-requests.ts), so its rescue
 * can tell a copy of one this process got before, which resumes nothing, from its first arrival.
 */
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { FlowRegistry } from '../flows/load';
import { errFields, lazyChild } from '../log';
import type { Metrics } from '../metrics';
import type { Rescue } from './dropin-rescue';
import { SEEN_REQUESTS_MAX, SeenRequests, SEEN_REQUEST_MEMORY_MS } from './seen-requests';
import { formParams } from './params';
import type { Claim, ReplayGuard, ReplayIdentity, StoredAnswer } from './replay';
import type { Identify } from './replay-identity';
import { checkSignature, signedUrl } from './signature';
import { safeTwiml, TWIML_CONTENT_TYPE } from './twiml';

export interface ServingDeps {
  config: Config;
  flows: FlowRegistry;
  replay: ReplayGuard;
  metrics: Metrics;
  log: Logger;
}

/**
 * The request's body, or its whole answer when the handler remembered it itself, in the one
 * write that made the step's changes (webhook-write.ts); `claimed`: the request's identity and
 * what its claim read, by key (the route's `reads`; none without an identity).
 */
export type Handler = (params: Record<string, string>, log: Logger, req: FastifyRequest, claimed: Claimed) => Promise<string | { remembered: StoredAnswer }>;
export interface Claimed {
  identity: ReplayIdentity | null;
  reads: ReadonlyMap<string, string | null>;
  /** an earlier request with this one's signature arrived at this process (seen-requests.ts; a route with a rescue only) */
  replayed: boolean;
}
/** answers the request before the replay guard and the handler, or null to let them run */
export type Early = (params: Record<string, string>, identity: ReplayIdentity) => Promise<StoredAnswer | null>;
/** the keys the replay claim reads for the handler, with the claim itself (one round trip) */
export type Reads = (identity: ReplayIdentity, req: FastifyRequest) => string[];

/**
 * How a route tells its requests apart (the replay guard), what may answer before it, what a
 * failure answers when the safe apology alone is not the answer (a drop-in capture's call, a
 * sensitive stretch's), what the claim reads for the handler, and, for a route the safe answer's
 * dial would be wrong for, its own safe answer from the request alone (`safe`: a dial's end,
 * dial-status.ts, where dialling again would never end).
 */
export interface Serving {
  identify: Identify;
  /** this instance's answer to a signed request it passes on (draining), before anything reads or writes; null: served */
  passOn?: (req: FastifyRequest) => string | null;
  early?: Early;
  rescue?: Rescue;
  reads?: Reads;
  safe?: (params: Record<string, string>) => string;
}

const XML = TWIML_CONTENT_TYPE;

/** `serve` runs one request through the signature check, the replay guard and `handler`; `observeLatency` records a route's answer time */
export function webhookServing(d: ServingDeps) {
  // the latency histogram's child per (route, status), looked up once: observe() with a label
  // object hashes and sorts the labels on every call
  const latencies = new Map<string, { observe: (seconds: number) => void }>();
  const observeLatency = (route: string, status: number, started: bigint) => {
    const k = `${route} ${status}`;
    let child = latencies.get(k);
    if (!child) latencies.set(k, (child = d.metrics.webhookLatency.labels({ route, outcome: String(status) })));
    child.observe(Number(process.hrtime.bigint() - started) / 1e9);
  };

  // the signed requests this process received on a route with a rescue: a copy of one resent here resumes nothing
  let warnedFullAt = -Infinity;
  const seen = new SeenRequests({
    onDrop: () => {
      d.metrics.seenRequestsDropped.inc();
      const now = performance.now();
      if (now - warnedFullAt < SEEN_REQUEST_MEMORY_MS) return;
      warnedFullAt = now;
      d.log.warn({ max: SEEN_REQUESTS_MAX }, 'seen-request memory full: the oldest forgotten early, a copy of it resent here not told from the first');
    },
  });

  const serve = async (req: FastifyRequest, name: string, kind: 'voice' | 'callback', handler: Handler, how: Serving): Promise<StoredAnswer> => {
    const { identify, early, rescue, reads, safe, passOn } = how;
    const params = formParams(req.body);
    const signature = req.headers['x-twilio-signature'];
    const verdict = checkSignature(d.config.twilio.authToken, signature, signedUrl(d.config.publicUrl, req.url), params);
    if (!verdict.ok) {
      d.metrics.signaturesRejected.inc({ reason: verdict.reason });
      d.log.warn({ route: name, reason: verdict.reason }, 'twilio signature refused');
      return { status: verdict.status, contentType: 'text/plain', body: verdict.reason === 'missing' ? 'missing signature' : 'invalid signature' };
    }
    const passed = passOn?.(req);
    if (passed) return { status: 200, contentType: XML, body: passed };
    // on arrival, signed: a request this process actually got (one whose connection failed never was)
    const replayed = rescue !== undefined && seen.arrive(signature as string);
    const callSid = typeof params.CallSid === 'string' ? params.CallSid : undefined;
    // the call's child logger, made when something is logged at the level set (most webhooks log nothing: log.ts lazyChild)
    const log = lazyChild(d.log, { callSid, route: name });
    const fallback = (): StoredAnswer =>
      kind === 'voice'
        ? { status: 200, contentType: XML, body: safe ? safe(params) : safeTwiml(d.config.publicUrl, d.flows.byNumber(params.To ?? '')) }
        : { status: 204, contentType: 'text/plain', body: '' };
    // the route's rescue (a drop-in capture's return, a stretch's resume) instead of the apology; never a second failure
    const rescued = async (): Promise<StoredAnswer | undefined> => {
      if (!rescue) return undefined;
      try {
        const body = await rescue(params, req.query, log, { replayed });
        return body === undefined ? undefined : { status: 200, contentType: XML, body };
      } catch (err) {
        log.error({ err: errFields(err) }, 'the rescue after a failure failed: safe answer');
        return undefined;
      }
    };
    // by meaning, not by bytes (replay.ts); no identity: no valid CallSid, which the handler refuses
    const identity: ReplayIdentity | null = identify(params, signature as string);
    let claim: Claim;
    const readKeys = identity && reads ? reads(identity, req) : [];
    try {
      const answered = identity && early ? await early(params, identity) : null;
      if (answered) return answered;
      claim = identity ? await d.replay.claim(identity, readKeys) : { first: true };
      if (!claim.first) {
        d.metrics.replays.inc();
        log.info('webhook replay answered from the first response');
        return claim.answer ?? fallback();
      }
    } catch (err) {
      d.metrics.safeFallbacks.inc({ reason: 'store' });
      log.error({ err: errFields(err) }, 'webhook replay guard unavailable: safe answer');
      // nothing remembers this answer (the store failed): a retry is rescued afresh, to the same result
      return (await rescued()) ?? fallback();
    }
    let answer: StoredAnswer;
    let remembered = false;
    try {
      const read = claim.reads ?? [];
      const out = await handler(params, log, req, { identity, reads: new Map(readKeys.map((k, i) => [k, read[i] ?? null])), replayed });
      if (typeof out === 'string')
        answer = kind === 'voice' ? { status: 200, contentType: XML, body: out } : { status: 204, contentType: 'text/plain', body: '' };
      else [answer, remembered] = [out.remembered, true];
    } catch (err) {
      d.metrics.safeFallbacks.inc({ reason: 'step' });
      log.error({ err: errFields(err) }, 'webhook step failed: safe answer');
      const back = await rescued();
      // rescued (the call back to its app, a stretch's recordings resumed): a retry gets that answer, never the step run afresh
      if (back) answer = back;
      else {
        if (identity) await d.replay.release(identity).catch((err) => log.warn({ err: errFields(err) }, 'webhook replay guard not released'));
        return fallback();
      }
    }
    if (identity && !remembered) await d.replay.remember(identity, answer).catch((err) => log.warn({ err: errFields(err) }, 'webhook answer not remembered'));
    return answer;
  };

  return { serve, observeLatency };
}
