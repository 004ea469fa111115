/**
 * The keys an emulated caller presses against a <Gather>: what Twilio takes of them (up to
 * finishOnKey, numDigits or a pause longer than the timeout), and the keys pressed after it
 * ended, which are still sounds on the call and which a later Gather takes as they come.
 */
import type { Call } from './call';
import { abortableSleep } from './context';
import { keyTones } from './keypad';

/** a key's tone, and the silence after it: a caller keys about five a second */
export const KEY_MS = 100;
/**
 * A Gather that says nothing ends on the caller's silence after the last key still coming: its
 * timeout, waited for only this long (a shorter wait than Twilio's only brings its action, and
 * whatever the service does next, sooner).
 */
const SILENCE_MAX_MS = 300;
/** in a Gather's answer, the caller stops for longer than its timeout: the Gather ends there, on its timeout */
export const PAUSE_KEY = ',';

/**
 * Keys the caller pressed past the Gather's end (more than numDigits, or after finishOnKey) are
 * not Twilio's to take: the Gather ended on the key before them. They are still sounds on the
 * call, pressed at the keypad's pace while Twilio asks for the action's TwiML, so each reaches
 * whatever recording runs at the moment it is pressed, as on a real call: a resume sent at once
 * after a fixed-length field can catch them.
 */
export function pressAfterGather(call: Call, rest: string): void {
  const now = Date.now();
  call.keysInFlight = call.keysInFlight.filter((k) => k.at >= now);
  [...rest.replaceAll(PAUSE_KEY, '')].forEach((key, i) => {
    const after = (i + 1) * 2 * KEY_MS;
    call.keysInFlight.push({ key, at: now + after });
    setTimeout(() => {
      if (call.live) call.captureAudio('inbound', keyTones(key, { toneMs: KEY_MS, gapMs: KEY_MS }));
    }, after).unref();
  });
}

/** the keys pressed past an earlier Gather's end from now on, once the last is pressed and the caller's silence after it has passed; null if the call's run was aborted */
export async function keysStillComing(call: Call, timeoutS: number, signal: AbortSignal): Promise<string | null> {
  const now = Date.now();
  const coming = call.keysInFlight.filter((k) => k.at >= now);
  const last = Math.max(now, ...coming.map((k) => k.at + KEY_MS));
  await abortableSleep(last - now + Math.min(timeoutS * 1000, SILENCE_MAX_MS), signal);
  return signal.aborted ? null : coming.map((k) => k.key).join('');
}

/**
 * What Twilio would submit for the keys pressed: up to finishOnKey, numDigits, or the caller's
 * pause (PAUSE_KEY: the Gather's timeout). `rest`: the keys pressed after it ended.
 */
export function keyedDigits(keys: string, finishOnKey: string, numDigits?: number): { digits: string; finishedOnKey: string; rest: string } {
  let digits = '';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === PAUSE_KEY) return { digits, finishedOnKey: '', rest: keys.slice(i + 1) };
    if (finishOnKey && key === finishOnKey) return { digits, finishedOnKey: key, rest: keys.slice(i + 1) };
    digits += key;
    if (numDigits !== undefined && digits.length >= numDigits) return { digits, finishedOnKey: '', rest: keys.slice(i + 1) };
  }
  return { digits, finishedOnKey: '', rest: '' };
}
