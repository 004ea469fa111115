/**
 * Level convention (ITU-T G.711 / Q.24): dBm0 per tone, a full-scale μ-law sine is +3.14 dBm0.
 * Full scale is MULAW_FULL_SCALE (32124) on the 16-bit linear scale used throughout media/dsp.
 */
import { MULAW_FULL_SCALE } from './mulaw';

export const SAMPLE_RATE_HZ = 8000;
/** G.711: the level of a full-scale sine */
export const FULL_SCALE_SINE_DBM0 = 3.14;

/** Peak amplitude (16-bit scale) of a sine at `dbm0` */
export function dbm0ToPeak(dbm0: number): number {
  return MULAW_FULL_SCALE * Math.pow(10, (dbm0 - FULL_SCALE_SINE_DBM0) / 20);
}

/** Mean power (amplitude²/2 for a sine) of a sine at `dbm0` */
export function dbm0ToPower(dbm0: number): number {
  const a = dbm0ToPeak(dbm0);
  return (a * a) / 2;
}

/** Level of a sine with this peak amplitude */
export function peakToDbm0(peak: number): number {
  return FULL_SCALE_SINE_DBM0 + 20 * Math.log10(Math.max(peak, 1e-9) / MULAW_FULL_SCALE);
}

/** Level of a signal with this mean power */
export function powerToDbm0(power: number): number {
  return peakToDbm0(Math.sqrt(2 * Math.max(power, 0)));
}
