/**
 * The vault side of the engine's results, for the webhook edge (runner.ts): plain values the
 * engine validated are sealed into the vault and only their tokens kept on the session, and the
 * first entry of a requireMatchingInputs pair is read back from the vault for the second
 * webhook to compare. Between the two webhooks the first entry exists only as a vault envelope.
 */
import type { CallSession } from '../calls/session';
import type { Vault } from '../vault';
import type { EngineResult } from './verbs';
import { isCollect, type Flow } from './schema';

/** seals the result's vault writes (tokens onto their fields, or onto pendingMatch) and erases what it drops */
export async function applyVaultOps(vault: Vault, res: EngineResult): Promise<void> {
  const s = res.session;
  for (const w of res.vaultWrites) {
    const token = await vault.put(s.callSid, w.field, w.value);
    if (w.pending) {
      if (s.pendingMatch) s.pendingMatch.token = token;
      continue;
    }
    const field = s.fields[w.field];
    if (field) field.token = token;
  }
  for (const token of res.vaultErases ?? []) await vault.erase(token);
}

/** the first entry of the pair the call's current step awaits the second of; null when there is none or it expired */
export async function firstEntry(vault: Vault, flow: Flow, s: CallSession): Promise<string | null> {
  const pending = s.pendingMatch;
  const step = pending ? flow.steps[pending.step] : undefined;
  if (!pending || pending.step !== s.step || !pending.token || !step || !isCollect(step)) return null;
  return vault.get(s.callSid, step.collect, pending.token);
}
