import { coded } from './base';

export const CallErrors = {
  notFound: coded('TW_ERR_CALL_NOT_FOUND', 'call not found', 404),
  notBridged: coded('TW_ERR_CALL_NOT_BRIDGED', 'the call is not bridged', 409),
} as const;
