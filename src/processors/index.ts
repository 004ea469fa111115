export { loadProcessors, parseProcessors, ProcessorsConfigError, type ProcessorConfig } from './config';
export { signatureHeader, verifySignature, SIGNATURE_HEADER, DEFAULT_TOLERANCE_SECONDS } from './sign';
export { type Backoff, DEFAULT_BACKOFF, backoffDelay } from './http';
export {
  ProcessorDelivery,
  type ProcessorDeliveryDeps,
  type DeliveryResult,
  type DeliveryRecord,
  cancelDeliveries,
  deliveryLeaseKey,
  idempotencyKey,
  readyFor,
} from './delivery';
export { forwardErasure, type ErasureOutcome } from './erase';
