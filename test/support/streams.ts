/**
 * What Twilio would report of the service's media streams: every message the service sent on a
 * stream that Twilio cannot take (error 31924: not JSON, a binary frame, an unknown event or
 * streamSid, a payload that is not base64) is dropped by Twilio, so audio or a mark the service
 * meant to send never arrives. A bridge test asserts, after each test, that no leg of any call
 * collected one.
 */
import { STREAM_PROTOCOL_ERROR, type TwilioEmulator } from '../../tools/emulator';

export interface StreamError {
  callSid: string;
  streamSid: string;
  reason: string;
}

/** every invalid message the service sent on any stream the emulator's calls opened, from each leg and from the timeline */
export function streamErrors(emulator: TwilioEmulator): StreamError[] {
  const fromLegs = [...emulator.calls.values()].flatMap((call) =>
    call.legs.flatMap((leg) => leg.errors.map((reason) => ({ callSid: call.sid, streamSid: leg.streamSid, reason }))),
  );
  const fromTimeline = emulator.timeline.flatMap((e) =>
    e.type === 'notification' && e.code === STREAM_PROTOCOL_ERROR ? [{ callSid: e.callSid, streamSid: e.streamSid ?? '', reason: e.message }] : [],
  );
  return [...fromLegs, ...fromTimeline];
}

/** fails the test when the service sent any stream a message Twilio would refuse */
export function expectNoStreamErrors(emulator: TwilioEmulator): void {
  expect(streamErrors(emulator)).toEqual([]);
}
