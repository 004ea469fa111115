export {
  subjectHash,
  isE164,
  isWithheldCallerId,
  callerIdOf,
  subjectRequest,
  maskedCaller,
  maskSubject,
  WITHHELD_CALLER_IDS,
  CALLER_VAULT_FIELD,
  type CallerId,
} from './subject';
export { PrivacyService, type PrivacyServiceDeps, type AccessReport, type ErasureReceipt, type SubjectCall } from './service';
export { recordingRemover, type RecordingErasure, type RecordingRemover } from './recordings';
export { RecordingErasureQueue, type RecordingErasureQueueDeps, RECORDING_RETRY_BACKOFF } from './recording-queue';
