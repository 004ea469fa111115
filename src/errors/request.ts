import { coded } from './base';

/** What the API answers about a request itself, whatever its route. */
export const RequestErrors = {
  invalid: coded('TW_ERR_REQUEST_INVALID', 'invalid request', 400),
  /** no route for the method and path: the answer never repeats the URL (it may hold a number) */
  notFound: coded('TW_ERR_REQUEST_NOT_FOUND', 'no such route', 404),
  rateLimited: coded('TW_ERR_RATE_LIMITED', 'too many requests', 429),
  // The three codes below predate the TW_ERR_<AREA>_<WHAT> rule; clients match on them, so they
  // keep their text (LEGACY_CODES in errors.ts names them, and no other code may skip the rule).
  /** the fallback for an error that is not a TonewallError: its text is not shown */
  internal: coded('TW_ERR_INTERNAL', 'internal error', 500),
  conflict: coded('TW_ERR_CONFLICT', 'conflict', 409),
  timeout: coded('TW_ERR_TIMEOUT', 'timed out', 504),
} as const;

/**
 * A JSON body that did not parse, on a route of the agent API or §7 (ops/json-body.ts): held as
 * the request's body instead of answered at once, so the route's own 401, 403 and 404 come first
 * (CONTRACT §5: a call the token may not see is 404 before any other check) and its 400 after.
 * `reason` is the parser's fixed text, never the body.
 */
export class MalformedJsonBody {
  constructor(readonly reason: string) {}
}

/** the 400 a route answers for a body that did not parse, once its own checks passed; else nothing */
export function refuseMalformedBody(body: unknown): void {
  if (body instanceof MalformedJsonBody) throw RequestErrors.invalid({ detail: body.reason });
}
