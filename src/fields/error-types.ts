/**
 * Why a value was asked for again, in Twilio's <Pay> errorType names (plus `invalid` for kinds
 * <Pay> has no name for): a field's outcome, kept on the call between webhooks and used by flow
 * prompts (flows/prompts.ts) to pick what the caller hears.
 */
import type { FieldKind } from './kinds';
import type { ValidationReason } from './validators';

/** Twilio's errorType names, plus `invalid` for kinds <Pay> has no name for (digits, date, routing number) */
export const ERROR_TYPES = [
  'timeout',
  'invalid',
  'invalid-card-number',
  'invalid-card-type',
  'invalid-date',
  'invalid-security-code',
  'invalid-postal-code',
  'input-matching-failed',
] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

/** the error type a refused value of `kind` reports; `no-input` (nothing keyed) is a timeout */
export function errorTypeFor(kind: FieldKind, reason: ValidationReason | 'no-input'): ErrorType {
  if (reason === 'no-input') return 'timeout';
  switch (kind) {
    case 'card-number':
      return reason === 'card-type' || reason === 'brand' ? 'invalid-card-type' : 'invalid-card-number';
    case 'expiry':
      return 'invalid-date';
    case 'security-code':
      return 'invalid-security-code';
    case 'postal-code':
      return 'invalid-postal-code';
    case 'digits':
    case 'date':
    case 'routing-number':
      return 'invalid';
  }
}
