import { coded } from './base';

export const MediaErrors = {
  noBridge: coded('TW_ERR_MEDIA_NO_BRIDGE', 'no bridge for this call on this instance', 409),
} as const;
