export type { BridgeLookup, CaptureBridge, KeyPress } from './deps';
export { CaptureExecutor } from './executor';
export { IDLE_MS } from './run';
export { CaptureRecords } from './records';
export { CaptureService } from './service';
export { captureRequestSchema, captureView, type CaptureRecord, type CaptureRequest, type StartResult } from './types';
