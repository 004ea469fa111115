import { coded } from './base';

/** Twilio's webhooks, TwiML and REST API. */
export const TwilioErrors = {
  rest: coded('TW_ERR_TWILIO_REST', 'a Twilio REST request failed', 502),
  gatherUnknownCall: coded('TW_ERR_TWILIO_GATHER_UNKNOWN_CALL', 'gather for an unknown call'),
  recordingCallMissing: coded('TW_ERR_TWILIO_RECORDING_CALL_MISSING', 'agent recording status without the bridged call'),
  bridgeLostMalformed: coded('TW_ERR_TWILIO_BRIDGE_LOST_MALFORMED', 'bridge-lost action with a malformed stream number or query'),
  dialHoldMalformed: coded('TW_ERR_TWILIO_DIAL_HOLD_MALFORMED', 'dial-hold redirect with a malformed hop'),
  streamUrlMissing: coded('TW_ERR_TWILIO_STREAM_URL_MISSING', 'bridge handoff without a stream URL'),
} as const;
