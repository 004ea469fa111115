export {
  loadProcessors,
  weakProcessorSecrets,
  parseProcessors,
  ProcessorsConfigError,
  type ProcessorConfig,
  type TonewallProcessorConfig,
  type GenericPayProcessorConfig,
  type GenericPaySettings,
} from './config';
export {
  signatureHeader,
  verifySignature,
  verifyProcessorRequest,
  type RequestPurpose,
  type VerifiedRequest,
  SIGNATURE_HEADER,
  DEFAULT_TOLERANCE_SECONDS,
} from './sign';
export { type Backoff, DEFAULT_BACKOFF, backoffDelay } from './http';
export { ProcessorDelivery, type ProcessorDeliveryDeps } from './delivery';
export { type DeliveryResult } from './outcome';
export { type DeliveryRecord, type SentDelivery, cancelDeliveries, deliveryLeaseKey, idempotencyKey, readyFor, roundsSent } from './records';
export { forwardErasure, erasureBody, type ErasureOutcome, type ErasureSubject, ERASURE_BACKOFF } from './erase';
export { ErasureQueue, type ErasureQueueDeps, ERASURE_RETRY_BACKOFF } from './erase-queue';
export { summarizeAnswer, type ProcessorSummary } from './summary';
