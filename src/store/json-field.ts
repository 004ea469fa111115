/**
 * Values of JSON-object records (the jsonSet op, claimField), checked by both stores before
 * anything is written: JSON text, and no escaped surrogate. Redis's cjson refuses the escape of
 * a lone surrogate, which JSON.stringify writes for one (it writes a well-formed pair as the
 * characters themselves), and a Lua script that fails half-way does not undo its first writes.
 */
import { StoreErrors } from '../errors';

/** `\uD800`-`\uDFFF` after an even number of backslashes (an odd one before it is escaped text) */
const SURROGATE_ESCAPE = /(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F]/;

/** the value parsed, once checked (the embedded store keeps it: embedded.ts) */
export function checkJsonValue(value: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw StoreErrors.jsonInvalid();
  }
  if (SURROGATE_ESCAPE.test(value)) throw StoreErrors.jsonInvalid();
  return parsed;
}
