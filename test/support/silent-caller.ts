/** A caller who reaches a flow's first prompt and then keys nothing, for tests of calls left alone (the call sweep). */
import type { EmulatedCall, GatherRequest, TwilioEmulator } from '../../tools/emulator';
import { PAYMENTS_NUMBER } from './harness';

/** a caller at the payments flow's first prompt, who keys nothing; the number has no status callback */
export async function silentCaller(emulator: TwilioEmulator, voiceUrl: string, from: string): Promise<EmulatedCall> {
  let atPrompt!: () => void;
  const prompted = new Promise<void>((resolve) => (atPrompt = resolve));
  const onGather = (_g: GatherRequest) => {
    atPrompt();
    return new Promise<null>(() => undefined);
  };
  const call = await emulator.placeCall({ from, to: PAYMENTS_NUMBER, voiceUrl, onGather });
  await prompted;
  return call;
}
