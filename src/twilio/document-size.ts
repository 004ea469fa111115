/**
 * What Twilio takes in size, measured on what the service can send it, at start. A webhook's TwiML
 * over 64 kB is error 11750 (the caller hears Twilio's "application error" and the call ends); a
 * `Twiml` over 4000 characters on a call create or update is refused with 32018. The service's own
 * documents are small, but a flow's are the operator's: up to 50 prompt entries of 4000 characters
 * a step, and any number of `say` steps said together before the next question. A flow that could
 * produce a document over the limit is refused when it is loaded, not on a caller's call.
 */
import { encodeActionQuery, MAX_ACTION_SIDS } from '../dropin/action-query';
import { MAX_RETURN_URL_LENGTH } from '../dropin/return-urls';
import { handoffVerbs, refusedHandoffVerbs } from '../flows/steps/handoff';
import { everyAsk, guardAfter } from '../flows/steps/collect';
import { playVerb, sayVerb } from '../flows/steps/say';
import { isCollect, type Flow } from '../flows/schema';
import type { Verb } from '../flows/verbs';
import { TOKEN_CHARS } from '../media/tokens';
import { MAX_CALLER_STREAMS } from './bridge-lost';
import { bridgeTwiml, documentBytes, type RenderContext } from './twiml';

/** Twilio's limit on a webhook's TwiML (error 11750: "the response body is larger than 64 kB") */
export const TWIML_DOCUMENT_MAX_BYTES = 64 * 1024;

/** Twilio's limit on a call create's or update's `Twiml` (error 32018) */
export const INLINE_TWIML_MAX_CHARS = 4000;

/** the origins the service writes into its TwiML */
export interface Origins {
  publicUrl: string;
  mediaPublicUrl: string;
}

/** the largest document one of a flow's documents can be, and where in the flow it is asked */
export interface LargestDocument {
  bytes: number;
  /** the path in the flow file: the step whose question ends it (`steps.3`), or `handoff` */
  where: string;
}

/**
 * The largest TwiML document `flow` can produce, in bytes, measured by rendering each one it can
 * produce with the longest URLs it can carry. A document holds the words said since the last
 * question (`say` and `play` steps, all together), then the next question's first <Gather> or the
 * handoff; a question asked again (another attempt, after each error, the second entry of a
 * matching pair, once more after a stray key) and a guard go alone. Every document may start the
 * recording, and every <Gather> carry a drop-in capture's longest action query.
 */
export function largestDocument(flow: Flow, origins: Origins): LargestDocument {
  const ctx: RenderContext = { publicUrl: origins.publicUrl, flow, actionQuery: longestActionQuery() };
  const start: Verb[] = flow.record ? [{ verb: 'start-recording' }] : [];
  let largest: LargestDocument = { bytes: 0, where: 'steps' };
  const measure = (verbs: Verb[], where: string, at: RenderContext = ctx): void => {
    const bytes = documentBytes([...start, ...verbs], at);
    if (bytes > largest.bytes) largest = { bytes, where };
  };
  let words: Verb[] = [];
  flow.steps.forEach((step, i) => {
    if (!isCollect(step)) {
      words.push('play' in step ? playVerb(step.play) : sayVerb(step));
      return;
    }
    const [first, ...again] = everyAsk(step, i, flow);
    measure([...words, first], `steps.${i}`);
    for (const ask of [first, ...again]) measure([{ ...ask, again: true }], `steps.${i}`);
    measure([guardAfter(step, { step: i + 1 })], `steps.${i}`);
    words = [];
  });
  const bridge: RenderContext = { ...ctx, streamUrl: longestStreamUrl(origins), streamNumber: MAX_CALLER_STREAMS };
  measure([...words, ...handoffVerbs(flow)], 'handoff', bridge);
  measure([...words, ...refusedHandoffVerbs(flow)], 'handoff', bridge);
  return largest;
}

/**
 * The length of the longest `Twiml` the service sends on a call create or update: the agent's
 * call in bridge mode (recorded, its stream, and the <Redirect> after it for its caller's last
 * stream); the other (a caller's apology when no agent answers) is a fixed message.
 */
export function longestInlineTwiml(origins: Origins): number {
  const callerSid = 'CA' + '0'.repeat(32);
  return bridgeTwiml.agentLeg(
    longestStreamUrl(origins),
    { publicUrl: origins.publicUrl, n: MAX_CALLER_STREAMS, callerSid },
    `${origins.publicUrl}/twilio/recording-status?leg=agent&call=${callerSid}`,
  ).length;
}

/** a media stream's URL as StreamTokens issues one (media/tokens.ts) */
function longestStreamUrl(origins: Origins): string {
  return `${origins.mediaPublicUrl.replace(/^http/, 'ws')}/media/${'x'.repeat(TOKEN_CHARS)}`;
}

/** a drop-in capture's action query with the longest return URL and every recording it may hold */
function longestActionQuery(): string {
  const returnUrl = 'https://' + 'x'.repeat(MAX_RETURN_URL_LENGTH - 'https://'.length);
  const paused = Array.from({ length: MAX_ACTION_SIDS }, (_, i) => 'RE' + i.toString(16).padStart(32, '0'));
  // the latest time its part holds (8 base36 digits): the longest it is written
  return encodeActionQuery({ returnUrl, paused }, new Date((36 ** 8 - 1) * 1000));
}
