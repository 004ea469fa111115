export { AuditTrail, AUDIT_RETENTION_DAYS, AUDIT_TTL_SECONDS, type AuditInput, type PreparedEntry, type Verification } from './trail';
export { GENESIS_HASH, type AuditEntry, type BrokenLink, sealEntry, verifyChain } from './chain';
export { AUDIT_RETRY, type AuditRetry } from './held';
export { AuditKey, AuditKeyRing } from './keys';
export { AUDIT_ACTOR, AUDIT_DIGIT_KEYS, AuditErrors, assertNoPersonalData } from './pii';
export { canonicalJson } from './canonical';
