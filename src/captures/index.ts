export { CaptureExecutor, IDLE_MS, type BridgeLookup, type CaptureBridge, type KeyPress } from './executor';
export { CaptureRecords } from './records';
export { CaptureService } from './service';
export { captureRequestSchema, captureView, type CaptureRecord, type CaptureRequest, type StartResult } from './types';
