import { coded } from './base';

export const DropinErrors = {
  notDropin: coded('TW_ERR_DROPIN_CALL_NOT_DROPIN', 'not a drop-in capture'),
  secretMissing: coded('TW_ERR_DROPIN_SECRET_MISSING', 'CAPTURE_RESULT_SECRET is not set'),
  /** a gather action's query can carry only what a recording's SID is, and a bounded number of them */
  actionSids: coded('TW_ERR_DROPIN_ACTION_SIDS', 'the paused recordings cannot be carried in a gather action'),
  /** another instance is trying the call's result POST: a return saved late withdraws it once that try ends */
  resultInFlight: coded('TW_ERR_DROPIN_RESULT_IN_FLIGHT', "the call's result is being sent by another instance"),
  /** the return URL a capture's record names is not under CAPTURE_RETURN_URLS (now): the call is not redirected there */
  returnNotAllowed: coded('TW_ERR_DROPIN_RETURN_NOT_ALLOWED', 'the return URL is not under CAPTURE_RETURN_URLS'),
  /** Twilio did not answer the read of the call's status at a capture's return within its bound (CALL_STATUS_READ_MS) */
  statusReadTimeout: coded('TW_ERR_DROPIN_STATUS_READ_TIMEOUT', "Twilio did not answer the read of the call's status in time", 504),
} as const;
