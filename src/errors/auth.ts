import { coded } from './base';

export const AuthErrors = {
  unauthorized: coded('TW_ERR_AUTH_UNAUTHORIZED', 'missing or invalid token', 401),
  forbidden: coded('TW_ERR_AUTH_FORBIDDEN', 'this role may not use this route', 403),
} as const;
