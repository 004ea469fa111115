import { coded } from './base';

export const DropinErrors = {
  notDropin: coded('TW_ERR_DROPIN_CALL_NOT_DROPIN', 'not a drop-in capture'),
  secretMissing: coded('TW_ERR_DROPIN_SECRET_MISSING', 'CAPTURE_RESULT_SECRET is not set'),
} as const;
