import { childElements, ownText, parseXml, XmlParseError, type XmlElement } from './xml';

/**
 * TwiML as the emulator runs it: the XML parsed into typed verbs with Twilio's defaults
 * applied, and the transcript entries a call records as it executes them.
 */

export interface StreamNoun {
  url: string;
  name?: string;
  track?: string;
  statusCallback?: string;
  parameters: Record<string, string>;
}

/** <Start><Recording>, with Twilio's defaults applied */
export interface RecordingNoun {
  channels: 'mono' | 'dual';
  track: 'inbound' | 'outbound' | 'both';
  trim: string;
  statusCallback?: string;
  statusCallbackMethod: 'POST' | 'GET';
  /** recordingStatusCallbackEvent, space-separated in TwiML; Twilio's default is `completed` */
  statusCallbackEvents: string[];
  name?: string;
}

export type PromptVerb =
  | { verb: 'Say'; text: string; voice?: string; language?: string; loop: number }
  | { verb: 'Play'; url: string; digits?: string; loop: number }
  | { verb: 'Pause'; length: number };

export type TwimlVerb =
  | PromptVerb
  | {
      verb: 'Gather';
      action?: string;
      method: string;
      input: string;
      numDigits?: number;
      finishOnKey: string;
      timeout: number;
      actionOnEmptyResult: boolean;
      prompts: PromptVerb[];
    }
  | { verb: 'Redirect'; url: string; method: string }
  | { verb: 'Hangup' }
  | { verb: 'Reject'; reason: string }
  | {
      verb: 'Dial';
      target: string;
      targetKind: DialTargetKind;
      action?: string;
      method: string;
      /** how long the dialled party may ring before Twilio gives up (no-answer), in seconds */
      timeout: number;
      /** the noun's call progress callback (statusCallback, statusCallbackMethod, statusCallbackEvent), if it names a URL */
      partyCallback?: PartyCallback;
      warnings?: TwimlWarning[];
    }
  | { verb: 'Enqueue'; name: string; action?: string; method: string }
  | { verb: 'Connect'; action?: string; method: string; stream?: StreamNoun; other?: string }
  | { verb: 'Start'; stream?: StreamNoun; recording?: RecordingNoun; warnings?: TwimlWarning[] }
  | { verb: 'Stop'; streamName?: string; recordingName?: string }
  | { verb: 'Leave' }
  | { verb: 'Unsupported'; name: string };

/**
 * Something Twilio takes with a warning (its debugger logs it) and carries on, a default used
 * instead: the call driver puts it on the timeline as a notification when it runs the verb.
 */
export interface TwimlWarning {
  code: number;
  message: string;
}

export type DialTargetKind = 'Number' | 'Client' | 'Sip' | 'Queue' | 'Conference' | 'text';

/** the call progress events a <Number>, <Client> or <Sip> noun may ask for (its statusCallbackEvent, space-separated) */
export type PartyEvent = 'initiated' | 'ringing' | 'answered' | 'completed';
const PARTY_EVENTS: readonly string[] = ['initiated', 'ringing', 'answered', 'completed'];

/**
 * A dialled party's status callback, as its noun asks for it (Twilio's docs, <Number>, <Client>,
 * <Sip>: statusCallbackEvent, statusCallback, statusCallbackMethod). Unasked, a <Number> reports
 * `completed` (its documented default) and a <Client> or <Sip> nothing (theirs is none).
 */
export interface PartyCallback {
  url: string;
  method: 'POST' | 'GET';
  events: PartyEvent[];
}

function partyCallback(noun: XmlElement): PartyCallback | undefined {
  const a = noun.attrs;
  if (!a.statusCallback) return undefined;
  const asked = a.statusCallbackEvent?.split(/\s+/).filter(Boolean);
  const events = (asked ?? (noun.name === 'Number' ? ['completed'] : [])).filter((e): e is PartyEvent => PARTY_EVENTS.includes(e));
  return { url: a.statusCallback, method: methodOf(a.statusCallbackMethod) as 'POST' | 'GET', events };
}

/** One line of a call's transcript: what the caller experienced, verb by verb. */
export type TranscriptEntry =
  | { verb: 'Say'; text: string; voice?: string; language?: string }
  | { verb: 'Play'; url: string; digits?: string }
  | { verb: 'Pause'; length: number }
  | {
      verb: 'Gather';
      action: string;
      numDigits?: number;
      finishOnKey: string;
      timeout: number;
      prompt: string[];
      /** 'input' when the caller keyed something, 'timeout' otherwise; the digits are in call.gathers */
      result: 'input' | 'timeout';
      digitCount: number;
    }
  | { verb: 'Redirect'; url: string }
  | { verb: 'Hangup' }
  | { verb: 'Reject'; reason: string }
  | { verb: 'Dial'; target: string; targetKind: DialTargetKind }
  | { verb: 'Enqueue'; name: string }
  | { verb: 'Connect/Stream'; url: string; parameters: Record<string, string> }
  | { verb: 'Start/Stream'; url: string; parameters: Record<string, string> }
  | { verb: 'Start/Recording'; channels: string; track: string }
  | { verb: 'Stop/Stream'; name?: string }
  | { verb: 'Stop/Recording'; name: string }
  | { verb: 'Leave' }
  | { verb: 'Unsupported'; name: string }
  | { verb: 'ApplicationError'; reason: string; url?: string; status?: number };

export class TwimlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TwimlError';
  }
}

const DEFAULT_GATHER_TIMEOUT_S = 5; // Twilio's documented <Gather timeout> default
const DEFAULT_PAUSE_S = 1; // Twilio's documented <Pause length> default
const DEFAULT_DIAL_TIMEOUT_S = 30; // Twilio's documented <Dial timeout> default
/** "Dial: Invalid timeout value": a warning, the default taken instead (timeout must be a positive integer) */
export const DIAL_INVALID_TIMEOUT = 13212;

export function parseTwiml(xml: string): TwimlVerb[] {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (err) {
    if (err instanceof XmlParseError) throw new TwimlError(`invalid XML: ${err.message}`);
    throw err;
  }
  if (root.name !== 'Response') throw new TwimlError(`root element is <${root.name}>, not <Response>`);
  return childElements(root).map(toVerb);
}

function toVerb(el: XmlElement): TwimlVerb {
  const a = el.attrs;
  switch (el.name) {
    case 'Say':
    case 'Play':
    case 'Pause':
      return toPrompt(el);
    case 'Gather':
      return {
        verb: 'Gather',
        action: a.action,
        method: methodOf(a.method),
        input: a.input ?? 'dtmf',
        numDigits: optionalInt(a.numDigits, 'Gather numDigits'),
        finishOnKey: a.finishOnKey ?? '#',
        timeout: optionalInt(a.timeout, 'Gather timeout') ?? DEFAULT_GATHER_TIMEOUT_S,
        actionOnEmptyResult: a.actionOnEmptyResult === 'true',
        prompts: childElements(el).map((child) => {
          if (!['Say', 'Play', 'Pause'].includes(child.name)) {
            throw new TwimlError(`<${child.name}> is not allowed inside <Gather>`);
          }
          return toPrompt(child);
        }),
      };
    case 'Redirect': {
      const url = ownText(el);
      if (!url) throw new TwimlError('<Redirect> without a URL');
      return { verb: 'Redirect', url, method: methodOf(a.method) };
    }
    case 'Hangup':
      return { verb: 'Hangup' };
    case 'Reject':
      return { verb: 'Reject', reason: a.reason ?? 'rejected' };
    case 'Dial': {
      const noun = childElements(el)[0];
      const kind = (noun?.name ?? 'text') as DialTargetKind;
      if (noun && !['Number', 'Client', 'Sip', 'Queue', 'Conference'].includes(noun.name)) {
        throw new TwimlError(`<${noun.name}> is not allowed inside <Dial>`);
      }
      const target = noun ? ownText(noun) || childElements(noun).map(ownText).join('') : ownText(el);
      const timeout = a.timeout === undefined ? DEFAULT_DIAL_TIMEOUT_S : /^\s*\d+\s*$/.test(a.timeout) ? Number(a.timeout) : 0;
      const party = noun && ['Number', 'Client', 'Sip'].includes(noun.name) ? partyCallback(noun) : undefined;
      const dial = {
        verb: 'Dial' as const,
        target,
        targetKind: kind,
        action: a.action,
        method: methodOf(a.method),
        ...(party ? { partyCallback: party } : {}),
      };
      if (timeout > 0) return { ...dial, timeout };
      return {
        ...dial,
        timeout: DEFAULT_DIAL_TIMEOUT_S,
        warnings: [{ code: DIAL_INVALID_TIMEOUT, message: `Dial: Invalid timeout value: ${a.timeout ?? ''}` }],
      };
    }
    case 'Enqueue':
      return { verb: 'Enqueue', name: ownText(el), action: a.action, method: methodOf(a.method) };
    case 'Connect': {
      const noun = childElements(el)[0];
      return {
        verb: 'Connect',
        action: a.action,
        method: methodOf(a.method),
        stream: noun?.name === 'Stream' ? toStream(noun) : undefined,
        other: noun && noun.name !== 'Stream' ? noun.name : undefined,
      };
    }
    case 'Start': {
      const noun = childElements(el)[0];
      if (noun?.name === 'Recording') return { verb: 'Start', ...toRecording(noun) };
      return { verb: 'Start', stream: noun?.name === 'Stream' ? toStream(noun) : undefined };
    }
    case 'Stop': {
      const noun = childElements(el)[0];
      if (noun?.name === 'Recording') {
        // only a recording started with a name can be stopped from TwiML
        if (!noun.attrs.name) throw new TwimlError('<Stop><Recording> without name');
        return { verb: 'Stop', recordingName: noun.attrs.name };
      }
      return { verb: 'Stop', streamName: noun?.attrs.name };
    }
    case 'Leave':
      return { verb: 'Leave' };
    default:
      return { verb: 'Unsupported', name: el.name };
  }
}

/**
 * <Say language>: Twilio's ids are a lower-case language and a region (`en-US`, `es-MX`; the
 * basic voices also take `en`, `en-gb`, `es`). Anything else (`english`, `es_ES`) is refused.
 */
const SAY_LANGUAGE = /^[a-z]{2,3}(-[A-Za-z]{2,4})?$/;
/** <Say voice>: the basic voices, Amazon Polly (`Polly.Lupe`, `Polly.Lupe-Neural`) and Google (`Google.es-US-Neural2-A`) */
const SAY_VOICE = /^(man|woman|alice|Polly\.[A-Za-z]+(-[A-Za-z]+)?|Google\.([a-z]{2,3}-[A-Z]{2})-[A-Za-z0-9-]+)$/;
/** <Play digits>: DTMF keys and `w` (a half-second wait) */
const PLAY_DIGITS = /^[0-9*#wW]+$/;

function checkSay(a: Record<string, string>): void {
  if (a.language !== undefined && !SAY_LANGUAGE.test(a.language)) throw new TwimlError(`<Say language> is not a language Twilio speaks: ${a.language}`);
  if (a.voice === undefined) return;
  const voice = SAY_VOICE.exec(a.voice);
  if (!voice) throw new TwimlError(`<Say voice> is not a Twilio voice: ${a.voice}`);
  // a Google voice names its own locale; Twilio fails a <Say> whose language is another
  const googleLocale = voice[3];
  if (googleLocale && a.language !== undefined && googleLocale.toLowerCase() !== a.language.toLowerCase()) {
    throw new TwimlError(`<Say voice="${a.voice}"> does not speak language ${a.language}`);
  }
}

/** <Play>: an absolute http(s) URL or one relative to the document; none only with `digits` */
function checkPlay(url: string, digits: string | undefined): void {
  if (digits !== undefined && !PLAY_DIGITS.test(digits)) throw new TwimlError(`<Play digits> holds a key Twilio cannot play: ${digits}`);
  if (!url) {
    if (digits === undefined) throw new TwimlError('<Play> without a URL');
    return;
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(url) && !/^https?:\/\//i.test(url)) throw new TwimlError(`<Play> URL must be http(s): ${url}`);
}

function toPrompt(el: XmlElement): PromptVerb {
  const a = el.attrs;
  const loop = optionalInt(a.loop, `${el.name} loop`) ?? 1;
  switch (el.name) {
    case 'Say':
      checkSay(a);
      return { verb: 'Say', text: ownText(el), voice: a.voice, language: a.language, loop };
    case 'Play':
      checkPlay(ownText(el), a.digits);
      return { verb: 'Play', url: ownText(el), digits: a.digits, loop };
    default:
      return { verb: 'Pause', length: optionalInt(a.length, 'Pause length') ?? DEFAULT_PAUSE_S };
  }
}

function toStream(el: XmlElement): StreamNoun {
  const url = el.attrs.url;
  if (!url) throw new TwimlError('<Stream> without url');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TwimlError(`<Stream url> is not an absolute URL: ${url}`);
  }
  if (parsed.protocol !== 'wss:' && parsed.protocol !== 'ws:') {
    throw new TwimlError(`<Stream url> must be ws(s)://, got ${parsed.protocol}`);
  }
  const parameters: Record<string, string> = {};
  for (const p of childElements(el)) {
    if (p.name !== 'Parameter') throw new TwimlError(`<${p.name}> is not allowed inside <Stream>`);
    if (!p.attrs.name) throw new TwimlError('<Parameter> without name');
    parameters[p.attrs.name] = p.attrs.value ?? '';
  }
  return {
    url,
    name: el.attrs.name,
    track: el.attrs.track,
    statusCallback: el.attrs.statusCallback,
    parameters,
  };
}

/** the events a recording status callback can be asked for (TwiML and REST alike) */
export const RECORDING_STATUS_EVENTS: readonly string[] = ['in-progress', 'completed', 'absent'];
/** "Invalid 'recordingStatusCallbackEvent'": a warning, the recording started with the valid ones */
export const RECORDING_INVALID_EVENT = 13621;

/** <Start><Recording>, with the defaults of Twilio's <Recording> docs (dual, trim-silence, both, completed) */
function toRecording(el: XmlElement): { recording: RecordingNoun; warnings?: TwimlWarning[] } {
  const a = el.attrs;
  if (childElements(el).length > 0) throw new TwimlError('<Recording> takes no nested elements');
  const channels = a.channels ?? 'dual';
  if (channels !== 'mono' && channels !== 'dual') throw new TwimlError(`<Recording channels> must be mono or dual, got ${channels}`);
  const track = a.track ?? 'both';
  if (track !== 'inbound' && track !== 'outbound' && track !== 'both') {
    throw new TwimlError(`<Recording track> must be inbound, outbound or both, got ${track}`);
  }
  const asked = (a.recordingStatusCallbackEvent ?? 'completed').split(/\s+/).filter(Boolean);
  const events = asked.filter((e) => RECORDING_STATUS_EVENTS.includes(e));
  const unknown = asked.filter((e) => !RECORDING_STATUS_EVENTS.includes(e));
  const recording: RecordingNoun = {
    channels,
    track,
    trim: a.trim ?? 'trim-silence',
    statusCallback: a.recordingStatusCallback,
    statusCallbackMethod: methodOf(a.recordingStatusCallbackMethod) as 'POST' | 'GET',
    // none valid: the default, as if none was asked for (the emulator's reading; Twilio's docs do not say)
    statusCallbackEvents: events.length > 0 ? events : ['completed'],
    name: a.name,
  };
  if (unknown.length === 0) return { recording };
  // Twilio warns (13621) and records: the call goes on
  return { recording, warnings: [{ code: RECORDING_INVALID_EVENT, message: `Invalid 'recordingStatusCallbackEvent': ${unknown.join(' ')}` }] };
}

function methodOf(raw: string | undefined): string {
  const m = (raw ?? 'POST').toUpperCase();
  if (m !== 'POST' && m !== 'GET') throw new TwimlError(`method must be GET or POST, got ${raw}`);
  return m;
}

function optionalInt(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new TwimlError(`${what} is not a whole number: ${raw}`);
  return Number(raw);
}
