/**
 * A capture's value, settled as it ends (executor.ts `endRun`): validated, sealed into the vault
 * and written as the call's masked field, the way the IVR writes one; or the capture's failure.
 * The plain value goes nowhere else.
 */
import { fieldState, validate, writeField, type FieldInput } from '../fields';
import type { ExecutorDeps } from './deps';
import type { Ending, Running } from './run';

type SettleDeps = Pick<ExecutorDeps, 'calls' | 'vault' | 'onSessionChanged'>;

/**
 * validate, vault and keep the masked field (written the way the IVR writes one); sets the
 * record's outcome. A failed value shows no digit; under a blanket not even how many were keyed.
 */
export async function settle(d: SettleDeps, run: Running, ending: Ending, clock: () => Date): Promise<void> {
  const r = run.record;
  const digits = run.collector.digits;
  if (ending.status === 'cancelled') {
    r.status = 'cancelled';
    r.reason = 'cancelled';
    return;
  }
  if (ending.status === 'failed' && (digits.length === 0 || (ending.reason !== 'no-input' && ending.reason !== 'timeout'))) {
    r.status = 'failed';
    r.reason = ending.reason;
    return;
  }
  const now = clock();
  const result = digits.length
    ? validate(r.kind, digits, { now, cardBrand: run.cardBrand, minLength: run.minLength, maxLength: run.maxLength })
    : ({ valid: false, reason: 'length' } as const);
  const token = result.valid ? await d.vault.put(r.callSid, r.name, digits) : undefined;
  const input: FieldInput = result.valid || !r.blanket ? { kind: r.kind, digits, result, token } : { kind: r.kind, failed: result.reason };
  const field = fieldState(input, { source: 'capture', at: now.getTime() });
  let replaced: string | undefined;
  const updated = await d.calls.update(r.callSid, (s) => {
    replaced = undefined;
    const before = s.fields[r.name]?.token;
    if (!writeField(s, r.name, field)) return false;
    replaced = before !== token ? before : undefined;
  });
  if (!updated) {
    // the call's record went while the caller keyed (the caller's erasure, or its expiry): the
    // value just sealed has no record to name it and must not outlive an erasure that already
    // swept the call's vault index, so it goes now, and the capture ends without a value
    if (token) await d.vault.eraseCall(r.callSid);
    r.status = 'failed';
    r.reason = 'call-not-found';
    return;
  }
  r.masked = field.masked;
  r.valid = field.valid;
  if (field.brand) r.brand = field.brand;
  if (field.last4) r.last4 = field.last4;
  if (r.blanket) r.entered = result.valid ? digits.length : 0;
  // a value captured again replaces the old one: the old one goes from the vault now, not at its TTL
  if (replaced) await d.vault.erase(replaced);
  if (result.valid) d.onSessionChanged?.(updated);
  if (result.valid) {
    r.status = 'completed';
  } else {
    r.status = 'failed';
    r.reason = result.reason;
  }
}
