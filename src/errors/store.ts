import { coded } from './base';

/** The shared store (Redis, or the embedded store that passes the same contract tests). */
export const StoreErrors = {
  unavailable: coded('TW_ERR_STORE_UNAVAILABLE', 'the store is unreachable', 503),
  /** a write without a TTL would outlive its call (STYLE rule 10): a programming error, not an outage */
  ttlInvalid: coded('TW_ERR_STORE_TTL_INVALID', 'store writes need a positive whole-second TTL'),
  recordMissing: coded('TW_ERR_STORE_RECORD_MISSING', 'createAll and compareAndSetAll need a record'),
  /**
   * a JSON-object record's value that is not JSON, or escapes a lone surrogate (Redis's cjson
   * refuses it, and a script that failed half-way would not undo its first writes)
   */
  jsonInvalid: coded('TW_ERR_STORE_JSON_INVALID', 'a JSON record value must be well-formed JSON text'),
  /** a page of a set (sscan) asked for with no members in it: Redis refuses COUNT 0 too */
  countInvalid: coded('TW_ERR_STORE_COUNT_INVALID', 'a page of a set needs a count of one or more'),
  /** the embedded store's answer to what Redis refuses with WRONGTYPE */
  wrongType: coded('TW_ERR_STORE_WRONG_TYPE', 'the key holds another type'),
  closed: coded('TW_ERR_STORE_CLOSED', 'the store is closed', 503),
} as const;
