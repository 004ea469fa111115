/**
 * A collected field as the call record keeps it, and the one function through which the IVR
 * (flows/steps/collect.ts) and mid-call captures (captures/settle.ts) write one, so that the
 * two paths cannot disagree on what a field shows.
 */
import { maskField, maskProgress } from './mask';
import type { CardBrand, FieldKind, ValidationResult } from './validators';

export interface FieldState {
  kind: FieldKind;
  /** masked view (CONTRACT §5); a failed value is all '*', with no last4 and no brand */
  masked: string;
  last4?: string;
  brand?: CardBrand;
  valid: boolean;
  /** why it failed: 'luhn', 'length', 'attempts-exhausted:luhn', 'recording-pause-failed', ... */
  reason?: string;
  /** opaque vault token of the encrypted value (only when valid) */
  token?: string;
  source: 'ivr' | 'capture';
  at: number;
}

/** what a field is written from: the keyed digits and their validation, or a failure with no value */
export type FieldInput =
  | { kind: FieldKind; digits: string; result: ValidationResult; token?: string }
  /** failed for `failed` (a fixed code): shows one '*' per digit keyed, if any */
  | { kind: FieldKind; failed: string; digits?: string };

/** the record a field lives in: the call session (its fields, and the brand a card sets) */
export interface FieldHolder {
  fields: Record<string, FieldState>;
  cardBrand?: CardBrand;
}

/**
 * Writes `name` onto the call. A failed value never overwrites a field that is already valid (a
 * botched re-capture must not erase a good card): false when the write was refused for that.
 */
export function writeField(holder: FieldHolder, name: string, next: FieldState): boolean {
  if (!next.valid && holder.fields[name]?.valid) return false;
  holder.fields[name] = next;
  if (next.valid && next.kind === 'card-number' && next.brand) holder.cardBrand = next.brand;
  return true;
}

/** the field a collected value becomes: the masked view of a valid value, nothing of a failed one */
export function fieldState(input: FieldInput, meta: { source: FieldState['source']; at: number }): FieldState {
  if ('failed' in input) return { kind: input.kind, masked: maskProgress(input.digits ?? ''), valid: false, reason: input.failed, ...meta };
  const view = maskField(input.kind, input.digits, input.result);
  if (!input.result.valid) return { ...view, reason: input.result.reason, ...meta };
  return { ...view, ...(input.token ? { token: input.token } : {}), ...meta };
}
