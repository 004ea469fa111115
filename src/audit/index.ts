export {
  AuditTrail,
  AUDIT_RETENTION_DAYS,
  AUDIT_TTL_SECONDS,
  GENESIS_HASH,
  type AuditEntry,
  type AuditInput,
  type PreparedEntry,
  type BrokenLink,
  type Verification,
  sealEntry,
  verifyChain,
} from './trail';
export { AUDIT_RETRY, type AuditRetry } from './held';
export { AuditKey, AuditKeyRing } from './keys';
export { AUDIT_ACTOR, AUDIT_DIGIT_KEYS, AuditErrors, assertNoPersonalData } from './pii';
export { canonicalJson } from './canonical';
