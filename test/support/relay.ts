/**
 * Where a bridged caller's audio lands in what the agent heard, exactly, however much silence the
 * emulator's 20 ms cadence sent before, between and after a test's own sends.
 *
 * What the service does (src/media/bridge.ts, registry.ts): the caller's stream gets its bridge at
 * `start`, and every caller frame after it is processed in order. Until the agent's stream starts,
 * each caller frame is answered by one hold frame to the caller; when it starts, the caller is sent
 * a `clear`, and from then on each caller frame goes to the agent as one frame, the caller's audio
 * delayed by the look-ahead (the Masker emits every byte exactly MASK_LOOKAHEAD_MS × 8 samples
 * later), and every agent frame goes to the caller unchanged. So the caller's bytes before the
 * bridge are the hold bytes it heard before its first `clear`, and caller byte `c` is agent byte
 * `c + lookahead - bridgedAt`; agent byte `a` is caller byte `clearedAt[0] + a`.
 *
 * The caller's stream must go on after the audio waited for (Twilio's cadence, the emulator's
 * default): its last look-ahead's worth comes out of the delay line only as later frames push it.
 *
 * Exact for a caller stream's first bridge only: once its agent's stream is lost and another
 * joins (a second `clear`), the caller frames relayed to the first agent are no longer countable
 * here, and these helpers refuse.
 */
import type { MediaLeg } from '../../tools/emulator';
import { waitFor } from './harness';

/** what the helpers need of a harness: the service's look-ahead */
export interface Lookahead {
  config: { maskLookaheadMs: number };
}

const lookaheadBytes = (h: Lookahead): number => (h.config.maskLookaheadMs * 8000) / 1000;

/** the caller's stream bytes the service had processed when the agent's stream joined (undefined before it joined) */
export function bridgedAt(caller: MediaLeg): number | undefined {
  if (caller.clearedAt.length > 1) throw new Error('the caller was bridged more than once: where its audio lands is not known here');
  return caller.clearedAt[0];
}

/** where caller byte `callerOffset` (counted in `caller.sentBytes`) lands in `agent.received` */
export function atAgent(h: Lookahead, caller: MediaLeg, callerOffset: number): number {
  const at = bridgedAt(caller);
  if (at === undefined) throw new Error('the caller is not bridged yet');
  return callerOffset + lookaheadBytes(h) - at;
}

/**
 * Waits until every byte the caller had put on the wire by `end` (default: now) has reached the
 * agent, through the look-ahead: `agent.received` holds the relay's output up to and including
 * caller byte `end - 1`. Fails after `timeoutMs` if the relay stops (or the agent never joins).
 */
export async function relayedThrough(h: Lookahead, caller: MediaLeg, agent: MediaLeg, end = caller.sentBytes, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => caller.clearedAt.length > 0, 'the agent bridged (the caller cleared)', timeoutMs);
  const need = atAgent(h, caller, end);
  await waitFor(() => agent.received.length >= need, `caller audio up to byte ${end} at the agent (${need} bytes)`, timeoutMs);
}

/** where agent byte `agentOffset` (counted in `agent.sentBytes`) lands in `caller.received` */
export function atCaller(caller: MediaLeg, agentOffset: number): number {
  const at = bridgedAt(caller);
  if (at === undefined) throw new Error('the caller is not bridged yet');
  // before the clear the caller heard hold bytes, one frame for each of its own frames; after it, the agent's, unchanged
  return caller.clearedAt[0]! + agentOffset;
}

/** waits until every byte the agent had put on the wire by `end` (default: now) has reached the caller */
export async function agentRelayedThrough(caller: MediaLeg, agent: MediaLeg, end = agent.sentBytes, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => caller.clearedAt.length > 0, 'the agent bridged (the caller cleared)', timeoutMs);
  const need = atCaller(caller, end);
  await waitFor(() => caller.received.length >= need, `agent audio up to byte ${end} at the caller (${need} bytes)`, timeoutMs);
}
