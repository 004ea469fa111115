/**
 * An audit entry held in the memory of a spawned pair's process (A, spawned-pair.ts), as the
 * service holds one: a dial offer on A is accepted there, Twilio answers the move of the caller's
 * call 1.5 s late, and Redis is frozen meanwhile, so the `handoff.agent-dialed` entry appended
 * after the move is held (audit/held.ts). Redis stays frozen: the test thaws it.
 */
import { type EmulatedCall } from '../../tools/emulator';
import { CALLER, token } from './agents';
import { waitFor } from './harness';
import type { SpawnedPair } from './spawned-pair';

/** the flow (for spawnedPairSuite) whose calls are offered in dial mode: `number` */
export function dialOfferFlow(number: string): Record<string, string> {
  return {
    'dial-offer': ['id: dial-offer', `numbers: ["${number}"]`, 'record: false', 'steps:', '  - say: "Thanks for calling."', 'handoff:', '  mode: dial'].join(
      '\n',
    ),
  };
}

/** A's log lines, parsed */
export function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** the call whose entry A holds, Redis frozen (the caller thaws it) */
export async function heldOnA(pair: SpawnedPair, publicUrl: string, number: string): Promise<EmulatedCall> {
  const { emulator: em, aUrl, b: hb, redis } = pair;
  const call = await em.placeCall({ from: CALLER, to: number, voiceUrl: `${publicUrl}/twilio/voice`, statusCallback: `${publicUrl}/twilio/status` });
  await waitFor(async () => (await hb.app.services.calls.get(call.sid))?.state === 'offered', 'the call offered on A', 10_000);
  em.faults.callsUpdate = { delayMs: 1500, times: 1 };
  const accepted = fetch(`${aUrl}/v1/calls/${call.sid}/accept`, { method: 'POST', headers: { authorization: `Bearer ${token(hb, 'alice')}` } });
  // the move reached Twilio (the fault is taken) and is answered 1.5 s later: Redis freezes meanwhile
  await waitFor(() => em.faults.callsUpdate === undefined, "the caller's call moved over REST", 10_000);
  redis.freeze();
  await waitFor(() => pair.output.includes('audit entry held'), "A's audit entry held", 10_000);
  await accepted;
  return call;
}
