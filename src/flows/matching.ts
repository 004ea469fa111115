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
  for (const w of res.vaultWrites) placeToken(res, w, await vault.put(res.session.callSid, w.field, w.value, tokenFor(vault, res, w)));
  for (const token of res.vaultErases ?? []) await vault.erase(token);
}

/**
 * applyVaultOps as the writes it would make, for a caller that makes them in one atomic write
 * with the session naming the tokens: the tokens are on the session when it returns.
 */
export function vaultOpsOf(vault: Vault, res: EngineResult): VaultWriteOp[] {
  const ops: VaultWriteOp[] = [];
  for (const w of res.vaultWrites) {
    const put = vault.putOps(res.session.callSid, w.field, w.value, tokenFor(vault, res, w));
    placeToken(res, w, put.token);
    ops.push(...put.ops);
  }
  for (const token of res.vaultErases ?? []) ops.push(vault.eraseOp(token));
  return ops;
}

/**
 * The token of the first entry of a matching pair. Its second entry's webhook must read it back
 * to compare, and the session that names a random token is known only once that webhook's replay
 * claim has read it: one more round trip after the claim (three in all). Named instead by the
 * call, step and attempt, which the second entry's own URL carries (/gather/:step/:attempt/confirm),
 * its store key is known before the claim, which reads it with the session (two in all, as any
 * gather). Each (step, attempt) seals at most one first entry: a first entry moves the step to
 * awaiting its second, and the second that refuses it moves on to the next attempt or step.
 */
export function matchToken(vault: Vault, callSid: string, step: number, attempt: number): string {
  return vault.slotToken(callSid, `match:${step}:${attempt}`);
}

/** the token a write is sealed under: a first entry's named by its step and attempt, any other's random (undefined) */
function tokenFor(vault: Vault, res: EngineResult, w: EngineResult['vaultWrites'][number]): string | undefined {
  const s = res.session;
  return w.pending && s.pendingMatch ? matchToken(vault, s.callSid, s.pendingMatch.step, s.attempt) : undefined;
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

/**
 * The first entry of the pair the call's current step awaits the second of; null when there is
 * none or it expired. `sealed`: envelopes already read, by token (the replay claim reads the one
 * `matchToken` names); a first entry under another token (sealed at random before matchToken, or
 * before a vault key rotation changed it) is read here.
 */
export async function firstEntry(vault: Vault, flow: Flow, s: CallSession, sealed: ReadonlyMap<string, string | null> = new Map()): Promise<string | null> {
  const pending = s.pendingMatch;
  const step = pending ? flow.steps[pending.step] : undefined;
  if (!pending || pending.step !== s.step || !pending.token || !step || !isCollect(step)) return null;
  const envelope = sealed.get(pending.token);
  if (envelope !== undefined) return vault.opened(s.callSid, step.collect, envelope);
  return vault.get(s.callSid, step.collect, pending.token);
}
