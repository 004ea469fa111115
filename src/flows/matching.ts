/**
 * The vault side of the engine's results, for the webhook edge (runner.ts): plain values the
 * engine validated are sealed into the vault and only their tokens kept on the session, and the
 * first entry of a requireMatchingInputs pair is read back from the vault for the second
 * webhook to compare. Between the two webhooks the first entry exists only as a vault envelope.
 */
import type { CallSession } from '../calls/session';
import type { Vault, VaultWriteOp } from '../vault';
import type { EngineResult } from './verbs';
import { isCollect, type Flow } from './schema';

/** seals the result's vault writes (tokens onto their fields, or onto pendingMatch) and erases what it drops */
export async function applyVaultOps(vault: Vault, res: EngineResult): Promise<void> {
  for (const w of res.vaultWrites) placeToken(res, w, await vault.put(res.session.callSid, w.field, w.value));
  for (const token of res.vaultErases ?? []) await vault.erase(token);
}

/**
 * applyVaultOps as the writes it would make, for a caller that makes them in one atomic write
 * with the session naming the tokens: the tokens are on the session when it returns.
 */
export function vaultOpsOf(vault: Vault, res: EngineResult): VaultWriteOp[] {
  const ops: VaultWriteOp[] = [];
  for (const w of res.vaultWrites) {
    const put = vault.putOps(res.session.callSid, w.field, w.value);
    placeToken(res, w, put.token);
    ops.push(...put.ops);
  }
  for (const token of res.vaultErases ?? []) ops.push(vault.eraseOp(token));
  return ops;
}

/** a sealed value's token onto its field, or onto pendingMatch */
function placeToken(res: EngineResult, w: EngineResult['vaultWrites'][number], token: string): void {
  const s = res.session;
  if (w.pending) {
    if (s.pendingMatch) s.pendingMatch.token = token;
    return;
  }
  const field = s.fields[w.field];
  if (field) field.token = token;
}

/** the first entry of the pair the call's current step awaits the second of; null when there is none or it expired */
export async function firstEntry(vault: Vault, flow: Flow, s: CallSession): Promise<string | null> {
  const pending = s.pendingMatch;
  const step = pending ? flow.steps[pending.step] : undefined;
  if (!pending || pending.step !== s.step || !pending.token || !step || !isCollect(step)) return null;
  return vault.get(s.callSid, step.collect, pending.token);
}
