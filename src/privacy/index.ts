export { subjectHash, isE164, CALLER_VAULT_FIELD } from './subject';
export { PrivacyService, type PrivacyServiceDeps, type AccessReport, type ErasureReceipt, type SubjectCall } from './service';
