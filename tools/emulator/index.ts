/**
 * The project's own Twilio emulator, for integration tests and `npm run demo`.
 *
 * It speaks Twilio's real protocol so the service cannot tell it from Twilio: signed
 * form-encoded webhooks (voice, actions, status and recording callbacks), TwiML execution,
 * the 2010-04-01 REST resources the service uses (Basic auth, Twilio's error JSON), and
 * Media Streams over a signed WebSocket handshake. Everything it does lands in `timeline`.
 *
 *   const twilio = await startTwilioEmulator({ accountSid, authToken });
 *   const call = await twilio.placeCall({ from, to, voiceUrl, onGather: () => '4111#' });
 *   await call.ended;
 */
import pino from 'pino';
import type { Call, EmulatedCall } from './call';
import type { EmulatorContext } from './context';
import { placeInboundCall, type CallRegistry, type PlaceCallOptions } from './dialer';
import type { Faults } from './faults';
import { NumberBook, type IncomingNumber } from './numbers';
import { buildRestServer } from './rest';
import { Timeline, type RecordingState, type TimelineEntry } from './timeline';
import { originMap } from './origins';
import { WEBHOOK_TIMEOUT_MS, WebhookSender, type SignedRequestOptions, type WebhookResponse } from './webhook';

export type { CallHandlers, EmulatedCall, GatherRequest, HeardEntry } from './call';
export type { PlaceCallOptions } from './dialer';
export type { DialOutcome, Faults, FaultSpec } from './faults';
export { connectStream, StreamRefusedError, FRAME_BYTES, FRAME_MS, MULAW_SILENCE } from './media-client';
export type { ConnectStreamOptions, MediaLeg } from './media-client';
export type { IncomingNumber } from './numbers';
export type { DialCallStatus, RecordingState, TimelineEntry, WebhookPurpose } from './timeline';
export type { TranscriptEntry } from './twiml';
export { keyTone, keyTones, type KeypadOptions } from './keypad';
export { parseTwiml, TwimlError } from './twiml';
export { STREAM_PROTOCOL_ERROR, TWIML_RESPONSE_MAX_BYTES } from './call-driver';
export { INLINE_TWIML_MAX_CHARS } from './rest';
export type { SignedRequestOptions, WebhookResponse } from './webhook';

export interface EmulatorOptions {
  accountSid: string;
  authToken: string;
  /** 0 (default) = a free port */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /**
   * The account's PCI Mode (Twilio Console, Voice settings): Twilio refuses a <Gather> whose
   * action is not https (error 13337, "Gather: callback must be over HTTPS when using gather
   * with PCI compliance"); the call ends with an application error before any key is taken.
   */
  pciMode?: boolean;
  /**
   * Twilio sends a `media` message every 20 ms for the life of a stream, silence when the party
   * says nothing (media-client.ts `cadence`). On by default, as Twilio does: a test that waits for
   * its audio at the other leg locates it by the legs' `sentBytes` and `clearedAt`
   * (test/support/relay.ts), not by counting what arrived, which the silence would satisfy early.
   * `false` suits a test that counts a stream's exact messages.
   */
  mediaCadence?: boolean;
  /** public https origins and the local http origins their TLS-terminating proxy serves (origins.ts) */
  origins?: Record<string, string>;
  logger?: pino.Logger;
}

export interface TwilioEmulator {
  /** e.g. http://127.0.0.1:41234: the service's TWILIO_API_BASE_URL */
  baseUrl: string;
  timeline: TimelineEntry[];
  faults: Faults;
  placeCall(opts: PlaceCallOptions): Promise<EmulatedCall>;
  calls: Map<string, EmulatedCall>;
  onOutboundCall(handler: (call: EmulatedCall) => void): void;
  incomingNumbers: Map<string, IncomingNumber>;
  addIncomingNumber(phoneNumber: string): string;
  timelineFor(callSid: string): TimelineEntry[];
  /** the call's recording state at `t`, or one recording's (`recordingSid`) */
  recordingStatusAt(callSid: string, t: number, recordingSid?: string): RecordingState;
  /** every state one recording of the call took, in order (its start, pauses, resumes, stop) */
  recordingStatuses(callSid: string, recordingSid: string): RecordingState[];
  /** ms on the timeline's clock, for comparing with entries' `t` */
  now(): number;
  /**
   * Points a public https origin at another local http origin from now on: the load balancer in
   * front of several instances, taking one out of rotation (origins.ts)
   */
  routeOrigin(publicOrigin: string, localOrigin: string): void;
  /** where the emulator connects for a URL it is given (its TLS proxy's hop for a routed public origin): for a test that dials as Twilio would */
  reach(url: string): string;
  /** POST (or GET) signed as Twilio signs it; `signature: null` omits the header */
  signedPost(url: string, params: Record<string, string>, opts?: SignedRequestOptions): Promise<WebhookResponse>;
  /** the X-Twilio-Signature Twilio would send for this URL and these params */
  signature(url: string, params: Record<string, string>): string;
  close(): Promise<void>;
}

export async function startTwilioEmulator(opts: EmulatorOptions): Promise<TwilioEmulator> {
  const closing = new AbortController();
  const timeline = new Timeline();
  const origins = originMap(opts.origins);
  const reach = origins.reach;
  const webhooks = new WebhookSender(opts.authToken, WEBHOOK_TIMEOUT_MS, reach);
  let baseUrl = '';
  const ctx: EmulatorContext = {
    accountSid: opts.accountSid,
    authToken: opts.authToken,
    timeline,
    webhooks,
    logger: (opts.logger ?? pino({ level: 'silent' })).child({ component: 'twilio-emulator' }),
    faults: {},
    pciMode: opts.pciMode ?? false,
    mediaCadence: opts.mediaCadence ?? true,
    reach,
    closing: closing.signal,
    baseUrl: () => baseUrl,
  };
  const calls = new Map<string, Call>();
  const reg: CallRegistry = { calls, numbers: new NumberBook(), outboundHandlers: [] };

  const app = buildRestServer(ctx, reg);
  baseUrl = await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });

  return {
    baseUrl,
    timeline: timeline.entries,
    faults: ctx.faults,
    calls,
    incomingNumbers: reg.numbers.bySid,
    placeCall: async (callOpts) => placeInboundCall(ctx, reg, callOpts),
    onOutboundCall: (handler) => {
      reg.outboundHandlers.push(handler);
    },
    addIncomingNumber: (phoneNumber) => reg.numbers.add(phoneNumber),
    timelineFor: (callSid) => timeline.forCall(callSid),
    recordingStatusAt: (callSid, t, recordingSid) => timeline.recordingStatusAt(callSid, t, recordingSid),
    recordingStatuses: (callSid, recordingSid) => timeline.recordingStatuses(callSid, recordingSid),
    now: () => timeline.now(),
    routeOrigin: (publicOrigin, localOrigin) => origins.route(publicOrigin, localOrigin),
    reach,
    signedPost: (url, params, signOpts) => webhooks.send(url, params, signOpts),
    signature: (url, params) => webhooks.signature(url, params),
    close: async () => {
      closing.abort();
      await Promise.all([...calls.values()].map((call) => call.finish('completed', { silent: true })));
      await app.close();
    },
  };
}
