import { coded } from './base';

export const RecordingErrors = {
  pauseFailed: coded('TW_ERR_RECORDING_PAUSE_FAILED', 'the recording could not be paused', 503),
  resumeFailed: coded('TW_ERR_RECORDING_RESUME_FAILED', 'the recording could not be resumed', 502),
  /** Twilio did not answer a pause or resume within its bound */
  timeout: coded('TW_ERR_RECORDING_TIMEOUT', 'Twilio did not answer the recording update in time', 504),
} as const;
