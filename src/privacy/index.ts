export { subjectHash, isE164, isWithheldCallerId, WITHHELD_CALLER_IDS, CALLER_VAULT_FIELD } from './subject';
export { PrivacyService, type PrivacyServiceDeps, type AccessReport, type ErasureReceipt, type SubjectCall } from './service';
