/**
 * A capture running on this instance: how long it may run and hold the recordings paused
 * (CONTRACT §5), and what the executor keeps of it from its start to its end.
 */
import type { CallSession } from '../calls/session';
import type { RecordingRef } from '../recording/stretch';
import type { DigitCollector } from './collector';
import type { CaptureBridge, KeyPress } from './deps';
import type { CaptureRecord } from './types';

/** CONTRACT §5: a capture ends this long after the last key */
export const IDLE_MS = 5_000;
/** a capture nobody keys into ends this long after it started, so the recording is not left paused */
export const FIRST_KEY_MS = 30_000;
/** no capture runs longer than this, whatever is keyed (19 digits at a slow pace fit easily) */
export const MAX_CAPTURE_MS = 120_000;
/**
 * The longest the recordings stay paused after a capture's end for a caller who keys on and on
 * (each key holds them RESUME_HOLD_MS more: end.ts held): as long as the capture would have waited for a
 * next key of the entry. Bounds how long a caller can keep them paused, and a shutdown.
 */
export const MAX_HOLD_MS = IDLE_MS;

export interface Running {
  record: CaptureRecord;
  collector: DigitCollector;
  bridge: CaptureBridge;
  onKey: (key: KeyPress) => void;
  /** a tone the bridge masked (a key reported or not): heard into nothing but the hold (end.ts held) */
  onTone: () => void;
  onLost: () => void;
  /** the recordings the capture paused (the agent's call's own, and any other in progress on either call), resumed as it ends */
  recordings: RecordingRef[];
  minLength?: number;
  maxLength?: number;
  cardBrand?: CallSession['cardBrand'];
  idle?: NodeJS.Timeout;
  hard: NodeJS.Timeout;
  /** store writes and events of one capture happen in key order */
  chain: Promise<void>;
  ending: boolean;
  /** the end under way: a second end (a cancel as the caller pressed '#') waits for it, so its caller sees the final record */
  ended?: Promise<void>;
  /**
   * The start's announcement under way (executor.ts announceStart: record, session, audit, event, and last the
   * blanket and the key listener). An end waits for it: one that came meanwhile (a cancel as soon
   * as the call's record named the capture, the call's end) would otherwise take the listener off
   * and the blanket down before the announcement put them up, leaving the blanket on for the rest
   * of the bridge and the listener feeding every key of the call's next capture in a second time.
   */
  announced?: Promise<void>;
  /**
   * when the capture last heard a key or a tone the bridge masked (performance.now(), ms), past
   * its end too; none after the '#' that ended it (end.ts held)
   */
  lastKeyAt?: number;
  /** the call's record named the capture running (executor.ts announceStart): from then on, only the end that claims it there resumes (end.ts claimEnd) */
  named?: boolean;
}

/** a cancel names who asked (AuditTrail.actor), for the `capture.cancelled` entry */
export type Ending = { status: 'finish' } | { status: 'failed'; reason: string } | { status: 'cancelled'; actor?: string };
