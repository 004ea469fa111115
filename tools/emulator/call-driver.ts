import type { Call, HeardEntry, Next } from './call';
import { abortableSleep, deliverWebhook, type EmulatorContext } from './context';
import { newSid } from './ids';
import { runDial, type DialVerb } from './dial';
import { connectStream, StreamRefusedError, type MediaLeg } from './media-client';
import { KEY_MS, keysStillComing, keyedDigits, pressAfterGather } from './keyed';
import { keyTones } from './keypad';
import { parseTwiml, TwimlError, type PromptVerb, type StreamNoun, type TwimlVerb } from './twiml';

/**
 * Runs a call's TwiML the way Twilio does: fetch a document, execute its verbs in order,
 * follow Gather/Redirect/Dial/Connect actions, end the call when a document runs out.
 */

/** Twilio speaks prompts in real time; the emulator only yields so tests stay fast. */
const PROMPT_YIELD_MS = 1;

type VerbOutcome = Next | 'continue' | 'end';

const ABORTED = Symbol('aborted');

export async function driveCall(ctx: EmulatorContext, call: Call, first: Next): Promise<void> {
  let next: Next | null = first;
  let docUrl: string | undefined;
  try {
    while (!call.finished) {
      next = call.takeRedirect() ?? next;
      if (!next) break;
      const signal = call.beginRun();
      const current: Next = next;
      next = null;
      const loaded = await loadDocument(ctx, call, current, signal);
      if (call.finished) return;
      if (signal.aborted) continue;
      if ('error' in loaded) {
        call.record({ verb: 'ApplicationError', reason: loaded.error, url: loaded.url, status: loaded.status });
        break;
      }
      if (current.kind === 'fetch') docUrl = current.url;
      const outcome = await execute(ctx, call, loaded.verbs, docUrl, signal);
      if (outcome === 'end' || outcome === 'continue') {
        if (!signal.aborted) break;
      } else {
        next = outcome;
      }
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    ctx.logger.warn({ callSid: call.sid, err: reason }, 'call ended by application error');
    if (!call.finished) call.record({ verb: 'ApplicationError', reason });
  }
  if (!call.finished) await call.finish('completed');
}

type Loaded = { verbs: TwimlVerb[] } | { error: string; url?: string; status?: number };

/**
 * The largest TwiML document Twilio takes from a webhook: "the response body is larger than
 * 64 kB" is error 11750, and the call gets Twilio's application error (it says so and hangs up).
 */
export const TWIML_RESPONSE_MAX_BYTES = 64 * 1024;

async function loadDocument(ctx: EmulatorContext, call: Call, next: Next, signal: AbortSignal): Promise<Loaded> {
  if (next.kind === 'twiml') return parseOrError(next.twiml);
  const params = { ...call.webhookParams(), ...next.extra };
  const res = await deliverWebhook(ctx, call.sid, next.purpose, next.url, next.method, params, signal);
  if (res.status < 200 || res.status >= 300) {
    const error = res.status === 0 ? 'no HTTP answer (11200)' : `HTTP ${res.status} (11200)`;
    return { error, url: next.url, status: res.status };
  }
  if (Buffer.byteLength(res.body, 'utf8') > TWIML_RESPONSE_MAX_BYTES) {
    return { error: 'TwiML response body too large (11750)', url: next.url, status: res.status };
  }
  const parsed = parseOrError(res.body);
  return 'error' in parsed ? { ...parsed, url: next.url, status: res.status } : parsed;
}

function parseOrError(twiml: string): Loaded {
  try {
    return { verbs: parseTwiml(twiml) };
  } catch (err) {
    if (err instanceof TwimlError) return { error: `invalid TwiML (12100): ${err.message}` };
    throw err;
  }
}

async function execute(ctx: EmulatorContext, call: Call, verbs: TwimlVerb[], docUrl: string | undefined, signal: AbortSignal): Promise<VerbOutcome> {
  for (const verb of verbs) {
    if (signal.aborted || call.finished) return 'end';
    if (call.status === 'ringing' && verb.verb !== 'Reject') {
      // Any verb but a leading <Reject> answers the call.
      call.setStatus('in-progress');
      void call.postStatus('answered');
    }
    const outcome = await executeVerb(ctx, call, verb, docUrl, signal);
    if (outcome !== 'continue') return outcome;
  }
  return 'end';
}

async function executeVerb(ctx: EmulatorContext, call: Call, verb: TwimlVerb, docUrl: string | undefined, signal: AbortSignal): Promise<VerbOutcome> {
  // what Twilio takes with a warning (its debugger's notification), carrying on with a default
  if ('warnings' in verb) for (const w of verb.warnings ?? []) ctx.timeline.add({ type: 'notification', callSid: call.sid, level: 'warning', ...w });
  switch (verb.verb) {
    case 'Say':
    case 'Play':
    case 'Pause':
      await playPrompt(call, verb, docUrl, signal);
      return 'continue';
    case 'Gather':
      return gather(ctx, call, verb, docUrl, signal);
    case 'Redirect':
      call.record({ verb: 'Redirect', url: verb.url });
      return { kind: 'fetch', url: resolveUrl(verb.url, docUrl), method: verb.method, purpose: 'redirect' };
    case 'Hangup':
      call.record({ verb: 'Hangup' });
      return 'end';
    case 'Reject':
      call.record({ verb: 'Reject', reason: verb.reason });
      await call.finish(verb.reason === 'busy' ? 'busy' : 'no-answer');
      return 'end';
    case 'Dial':
      return dial(ctx, call, verb, docUrl, signal);
    case 'Enqueue':
      // The caller waits in the queue until the call is redirected or hung up.
      call.record({ verb: 'Enqueue', name: verb.name });
      await untilAborted(signal);
      return 'end';
    case 'Connect':
      return connect(ctx, call, verb, docUrl, signal);
    case 'Start':
      if (verb.recording) {
        const r = verb.recording;
        call.record({ verb: 'Start/Recording', channels: r.channels, track: r.track });
        call.startRecording({
          channels: r.channels,
          statusCallback: r.statusCallback ? resolveUrl(r.statusCallback, docUrl) : undefined,
          statusCallbackMethod: r.statusCallbackMethod,
          statusCallbackEvents: r.statusCallbackEvents,
          trim: r.trim,
          track: r.track,
          source: 'StartCallRecordingTwiML',
          name: r.name,
        });
        return 'continue';
      }
      if (!verb.stream) {
        call.record({ verb: 'Unsupported', name: 'Start' });
        return 'continue';
      }
      call.record({ verb: 'Start/Stream', url: verb.stream.url, parameters: verb.stream.parameters });
      await openLeg(ctx, call, verb.stream, 'start');
      return 'continue';
    case 'Stop':
      if (verb.recordingName !== undefined) {
        call.record({ verb: 'Stop/Recording', name: verb.recordingName });
        const rec = call.recordings.find((r) => r.active && r.opts.name === verb.recordingName);
        // Twilio goes on with the document while it processes the recording
        if (rec) void call.updateRecording(rec, 'stopped');
        return 'continue';
      }
      call.record({ verb: 'Stop/Stream', name: verb.streamName });
      await Promise.all(call.legs.filter((leg) => leg !== call.leg).map((leg) => leg.stop()));
      return 'continue';
    case 'Leave':
      call.record({ verb: 'Leave' });
      return 'continue';
    case 'Unsupported':
      call.record({ verb: 'Unsupported', name: verb.name });
      return 'continue';
  }
}

async function playPrompt(call: Call, verb: PromptVerb, docUrl: string | undefined, signal: AbortSignal): Promise<void> {
  switch (verb.verb) {
    case 'Say':
      call.record({ verb: 'Say', text: verb.text, voice: verb.voice, language: verb.language });
      await abortableSleep(PROMPT_YIELD_MS, signal);
      return;
    case 'Play':
      // the URL Twilio fetches: relative ones resolved against the document's
      call.record({ verb: 'Play', url: verb.url ? resolveUrl(verb.url, docUrl) : '', digits: verb.digits });
      await abortableSleep(PROMPT_YIELD_MS, signal);
      return;
    case 'Pause':
      // waited for as Twilio does (a redirect or hang-up ends it sooner): a caller or agent left
      // waiting in a <Pause> is redirected out of it, or the call ends when it runs out
      call.record({ verb: 'Pause', length: verb.length });
      await abortableSleep(verb.length * 1000, signal);
      return;
  }
}

async function gather(
  ctx: EmulatorContext,
  call: Call,
  verb: Extract<TwimlVerb, { verb: 'Gather' }>,
  docUrl: string | undefined,
  signal: AbortSignal,
): Promise<VerbOutcome> {
  // Twilio's default action is the document's own URL.
  const action = resolveUrl(verb.action ?? docUrl ?? '', docUrl);
  // PCI Mode: the keys would cross the network in the clear; Twilio refuses before it asks
  if (ctx.pciMode && !action.toLowerCase().startsWith('https://')) {
    throw new TwimlError('Gather: callback must be over HTTPS when using gather with PCI compliance (13337)');
  }
  const prompt: string[] = [];
  const heard: HeardEntry[] = [];
  for (const p of verb.prompts) {
    await playPrompt(call, p, docUrl, signal);
    if (p.verb === 'Say') prompt.push(p.text);
    const entry = call.transcript[call.transcript.length - 1];
    if (entry && (entry.verb === 'Say' || entry.verb === 'Play')) heard.push(entry);
  }
  if (signal.aborted) return 'end';

  // A Gather that says nothing asks the caller nothing: the handler is not asked. It takes the
  // keys the caller is still pressing past an earlier Gather's end, as Twilio's Gather takes
  // every key pressed while it runs, and ends on the silence after them.
  const silent = verb.prompts.length === 0;
  let answer: string | null;
  if (silent) {
    const coming = await keysStillComing(call, verb.timeout, signal);
    if (coming === null) return 'end';
    answer = coming;
  } else {
    const handler = call.handlers.onGather;
    const request = {
      action,
      numDigits: verb.numDigits,
      finishOnKey: verb.finishOnKey,
      timeout: verb.timeout,
      prompt,
      heard,
      index: call.gathers.length,
    };
    const answered = handler ? await raceAbort(Promise.resolve(handler(request)), signal) : null;
    if (answered === ABORTED) return 'end';
    answer = answered;
  }

  const { digits, finishedOnKey, rest } = keyedDigits(answer ?? '', verb.finishOnKey, verb.numDigits);
  if (!silent) {
    // the keys are sounds on the call, pressed one after another: every recording running (not
    // paused) hears each key Twilio took (a silent Gather's were heard as they were pressed)
    const keys = digits + finishedOnKey;
    if (keys) call.captureAudio('inbound', keyTones(keys, { toneMs: KEY_MS, gapMs: KEY_MS }));
    pressAfterGather(call, rest);
  }
  call.recordGather(digits, action);
  call.record({
    verb: 'Gather',
    action,
    numDigits: verb.numDigits,
    finishOnKey: verb.finishOnKey,
    timeout: verb.timeout,
    prompt,
    result: digits ? 'input' : 'timeout',
    digitCount: digits.length,
  });
  if (!digits && !verb.actionOnEmptyResult) return 'continue';
  return {
    kind: 'fetch',
    url: action,
    method: verb.method,
    purpose: 'gather-action',
    extra: { Digits: digits, FinishedOnKey: finishedOnKey, msg: 'Gather End' },
  };
}

async function dial(ctx: EmulatorContext, call: Call, verb: DialVerb, docUrl: string | undefined, signal: AbortSignal): Promise<VerbOutcome> {
  // an action that cannot be requested (15004) is refused before anyone is dialled
  const action = verb.action ? resolveUrl(verb.action, docUrl) : undefined;
  call.record({ verb: 'Dial', target: verb.target, targetKind: verb.targetKind });
  if (verb.targetKind === 'Queue' || verb.targetKind === 'Conference') {
    // not modelled: a queue's or conference's dial ends at once, reported completed
    if (!action) return 'continue';
    return {
      kind: 'fetch',
      url: action,
      method: verb.method,
      purpose: 'dial-action',
      extra: { DialCallStatus: 'completed', DialCallSid: newSid('CA'), DialCallDuration: '0' },
    };
  }
  // the party's callback URL, as an action's: absolute in inline TwiML, else resolved against the document
  const partyUrl = verb.partyCallback ? resolveUrl(verb.partyCallback.url, docUrl) : undefined;
  const ended = await runDial(ctx, call, verb, signal, partyUrl);
  if (!ended) return 'end';
  // no action: the caller still on the line goes on with the document
  if (!action) return ended.callerGone ? 'end' : 'continue';
  if (ended.callerGone) {
    // Twilio requests the action of a <Dial> the caller hung up on, and ignores what it answers
    void deliverWebhook(ctx, call.sid, 'dial-action', action, verb.method, { ...call.webhookParams(), ...ended.params });
    return 'end';
  }
  return { kind: 'fetch', url: action, method: verb.method, purpose: 'dial-action', extra: ended.params };
}

async function connect(
  ctx: EmulatorContext,
  call: Call,
  verb: Extract<TwimlVerb, { verb: 'Connect' }>,
  docUrl: string | undefined,
  signal: AbortSignal,
): Promise<VerbOutcome> {
  if (!verb.stream) {
    call.record({ verb: 'Unsupported', name: `Connect/${verb.other ?? ''}` });
    return 'continue';
  }
  call.record({ verb: 'Connect/Stream', url: verb.stream.url, parameters: verb.stream.parameters });
  const leg = await openLeg(ctx, call, verb.stream, 'connect');
  if (leg) {
    const outcome = await raceAbort(leg.closed, signal);
    if (outcome === ABORTED) {
      // Redirected or hung up: Twilio sends `stop` and closes the socket.
      await leg.stop();
      return 'end';
    }
  }
  // The stream ended from the service's side (or never opened): Twilio goes on.
  if (verb.action) {
    return { kind: 'fetch', url: resolveUrl(verb.action, docUrl), method: verb.method, purpose: 'connect-action' };
  }
  return 'continue';
}

/** Twilio's error for a <Stream> URL whose scheme is not wss */
const STREAM_SCHEMA_UNSUPPORTED = 31922;
/**
 * Twilio's error for a <Stream track> it does not take ("Stream - Invalid Track configuration",
 * /docs/api/errors/31941): a bidirectional <Connect><Stream> carries the inbound track only, so
 * any value but inbound_track is refused there; <Start><Stream> takes inbound_track,
 * outbound_track or both_tracks (the default is inbound_track).
 */
export const STREAM_INVALID_TRACK = 31941;
const STREAM_TRACKS: Record<'connect' | 'start', readonly string[]> = {
  connect: ['inbound_track'],
  start: ['inbound_track', 'outbound_track', 'both_tracks'],
};
/**
 * Twilio's error for a message the service sent on a stream that Twilio cannot take: not JSON, a
 * binary frame, not a `media`, `mark` or `clear` message, or one whose format is invalid (an
 * unknown streamSid, a payload that is not base64). Docs: /docs/api/errors/31924.
 */
export const STREAM_PROTOCOL_ERROR = 31924;

async function openLeg(ctx: EmulatorContext, call: Call, stream: StreamNoun, kind: 'connect' | 'start'): Promise<MediaLeg | null> {
  const streamSid = newSid('MZ');
  const track = stream.track ?? 'inbound_track';
  const tracks = track === 'both_tracks' ? ['inbound', 'outbound'] : track === 'outbound_track' ? ['outbound'] : ['inbound'];
  // Twilio drops a query string from a stream URL; only <Parameter>s carry data.
  const url = stream.url.split('?')[0];
  if (!STREAM_TRACKS[kind].includes(track)) {
    // no stream: the call goes on as after one that did not open
    ctx.timeline.add({ type: 'stream-open', callSid: call.sid, streamSid, url, accepted: false, errorCode: STREAM_INVALID_TRACK });
    ctx.logger.warn({ callSid: call.sid, url, track, errorCode: STREAM_INVALID_TRACK }, 'media stream track not supported');
    return null;
  }
  if (new URL(url).protocol !== 'wss:') {
    // Twilio opens media streams over TLS only: a ws:// URL is never dialled (error 31922,
    // "URL schema not supported ... verify the schema in TwiML URL is wss")
    ctx.timeline.add({ type: 'stream-open', callSid: call.sid, streamSid, url, accepted: false, errorCode: STREAM_SCHEMA_UNSUPPORTED });
    ctx.logger.warn({ callSid: call.sid, url, errorCode: STREAM_SCHEMA_UNSUPPORTED }, 'media stream URL is not wss');
    return null;
  }
  try {
    const leg = await connectStream(url, {
      reach: ctx.reach,
      accountSid: ctx.accountSid,
      authToken: ctx.authToken,
      callSid: call.sid,
      streamSid,
      parameters: stream.parameters,
      tracks,
      bidirectional: kind === 'connect',
      cadence: ctx.mediaCadence,
      onCallerFrame: (frame) => call.captureAudio('inbound', frame),
      onServiceAudio: (bytes) => call.captureAudio('outbound', bytes),
      onDtmf: (digit) => call.captureKey(digit),
      onClose: ({ code, reason, by }) => ctx.timeline.add({ type: 'stream-close', callSid: call.sid, streamSid, code, reason, by }),
      // Twilio drops a message it cannot take and logs error 31924 to the debugger; the stream goes on
      onError: (reason) =>
        ctx.timeline.add({
          type: 'notification',
          callSid: call.sid,
          streamSid,
          level: 'error',
          code: STREAM_PROTOCOL_ERROR,
          message: `Stream - WebSocket - Protocol Error: ${reason}`,
        }),
    });
    ctx.timeline.add({ type: 'stream-open', callSid: call.sid, streamSid, url, accepted: true });
    call.addLeg(leg, kind);
    if (kind === 'connect') handOver(ctx, call, leg);
    if (call.finished) {
      await leg.stop();
      return null;
    }
    return leg;
  } catch (err) {
    const httpStatus = err instanceof StreamRefusedError ? err.status : undefined;
    ctx.timeline.add({ type: 'stream-open', callSid: call.sid, streamSid, url, accepted: false, httpStatus });
    ctx.logger.warn({ callSid: call.sid, url, httpStatus }, 'media stream did not open');
    return null;
  }
}

/** gives the test its live leg, synchronously so it has it before legReady's waiters run */
function handOver(ctx: EmulatorContext, call: Call, leg: MediaLeg): void {
  const onStream = call.handlers.onStream;
  if (!onStream) return;
  const fail = (err: unknown): void => ctx.logger.error({ callSid: call.sid, err }, 'onStream handler failed');
  try {
    Promise.resolve(onStream(leg)).catch(fail);
  } catch (err) {
    fail(err);
  }
}

function resolveUrl(url: string, base: string | undefined): string {
  // An absolute URL is requested (and signed) exactly as written.
  if (/^https?:\/\//i.test(url)) return url;
  // TwiML given inline (a call created or updated with `Twiml`) has no document URL: Twilio wants
  // its action URLs absolute (error 15004, "Action Callback URL must be an absolute URL when using
  // TwiML to update in-progress calls") and the call gets its application error
  if (base === undefined) throw new TwimlError(`relative URL "${url}" in inline TwiML: it must be absolute (15004)`);
  try {
    return new URL(url, base).toString();
  } catch {
    throw new TwimlError(`cannot resolve URL "${url}"`);
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
