import { coded } from './base';

export const AuthErrors = {
  unauthorized: coded('TW_ERR_AUTH_UNAUTHORIZED', 'missing or invalid token', 401),
  forbidden: coded('TW_ERR_AUTH_FORBIDDEN', 'this role may not use this route', 403),
  /** a sign-out asked of a TokenAuth built without the store's revocations (only a test builds one) */
  revocationsMissing: coded('TW_ERR_AUTH_REVOCATIONS_MISSING', 'token revocation is not configured', 500),
} as const;
