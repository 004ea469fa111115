import { coded } from './base';

export const CaptureErrors = {
  running: coded('TW_ERR_CAPTURE_RUNNING', 'a capture is already running on this call', 409),
  notFound: coded('TW_ERR_CAPTURE_NOT_FOUND', 'capture not found', 404),
} as const;
