import type { MaskedFieldView } from '../bus';
import type { CallSession } from './session';

/** the masked field views an agent may see */
export function publicFields(s: CallSession) {
  const out: Record<string, MaskedFieldView> = {};
  for (const [name, f] of Object.entries(s.fields)) {
    out[name] = {
      kind: f.kind,
      masked: f.masked,
      ...(f.last4 ? { last4: f.last4 } : {}),
      ...(f.brand ? { brand: f.brand } : {}),
      valid: f.valid,
      ...(f.reason ? { reason: f.reason } : {}),
    };
  }
  return out;
}
