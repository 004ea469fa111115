/**
 * Replays. Twilio retries a webhook it got no answer to, and an attacker may resend a captured
 * one: either gets the answer the first request got, and nothing runs twice.
 *
 * A request is recognised by what it means, not by its bytes. Twilio's signature concatenates
 * parameter names and values with no separator, so `CalledCity=&CalledCountry=US` and
 * `CalledCity=CalledCountryUS` carry the same signature: a digest of the parsed parameters
 * would see two requests where Twilio signed one. So the identity of a request is
 * - `/twilio/voice`: the CallSid (a call starts once);
 * - a gather action: (CallSid, step, attempt), the path segments the service wrote itself;
 * - a callback: (CallSid, route, signature), which every byte-shuffled copy shares.
 *
 * The answers of one call live in one record (`keys.webhookReplay(hmac(CallSid))`), a JSON
 * object of entries, refreshed to the call record's TTL at every webhook of the call, so replay
 * memory lasts as long as the call record does and an erasure removes all of it at once
 * (`forget`). The record is named by an HMAC of the CallSid under a service secret, so the store
 * does not name the call in plain. The first request claims its entry in the store
 * (store.claimField: one round trip, which can read the call's other records with it) and
 * stores its answer there (`remember`, or `rememberOp` within the handler's own atomic write);
 * a duplicate that arrives while the first is still running waits for that answer. Each write
 * changes only its own entry, so webhooks of one call never overwrite each other's.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { CALL_TTL_SECONDS } from '../calls/session';
import type { Keys, Store, StoreOp, StoreRecord } from '../store';

/** as long as the call record: refreshed with every webhook of the call, like the record itself */
export const REPLAY_TTL_SECONDS = CALL_TTL_SECONDS;
const PENDING = 'pending';
const PENDING_JSON = JSON.stringify(PENDING);
const WAIT_STEP_MS = 50;
const WAIT_MAX_MS = 10_000;
const SHARED_ENTRIES_MAX = 1024;

export interface StoredAnswer {
  status: number;
  contentType: string;
  body: string;
}

const storedAnswer = z.object({ status: z.number().int(), contentType: z.string(), body: z.string() });
const answersRecord = z.record(z.string(), z.union([z.literal(PENDING), storedAnswer]));
type AnswersRecord = z.infer<typeof answersRecord>;

/** what a webhook means, for the replay guard: its route, its call and what in it makes it unique */
export interface ReplayIdentity {
  callSid: string;
  /** route name and its distinguishing parts, e.g. ['gather', '2', '1'] */
  parts: readonly string[];
}

/** `reads`, when the claim was asked to read keys: what each held as it claimed (the call's state as its handler starts) */
export type Claim = { first: true; reads?: (string | null)[] } | { first: false; answer: StoredAnswer | null };

export class ReplayGuard {
  /** entry names of the parts every call shares (the flows' steps and attempts; bounded all the same) */
  private readonly entries = new Map<string, string>();

  /** the secret as a key object: an HMAC from it skips importing the key, a third of its cost */
  private readonly secret: KeyObject;

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    secret: Buffer,
  ) {
    this.secret = createSecretKey(secret);
  }

  /** the store key holding every answer of one call */
  recordKey(callSid: string): string {
    return this.keys.webhookReplay(
      createHmac('sha256', this.secret)
        .update('call\n' + callSid)
        .digest('hex'),
    );
  }

  /**
   * Each request's record key, by its identity: its claim and its remembered answer (or release)
   * name the same record, and each was an HMAC of its own (a gather's claim and its rememberOp).
   * Kept with the CallSid it was made for, so an identity's key is never another call's.
   */
  private readonly keysOf = new WeakMap<ReplayIdentity, { callSid: string; key: string }>();

  /** recordKey for the request `id`, made once per identity */
  private keyOf(id: ReplayIdentity): string {
    const known = this.keysOf.get(id);
    if (known && known.callSid === id.callSid) return known.key;
    const key = this.recordKey(id.callSid);
    this.keysOf.set(id, { callSid: id.callSid, key });
    return key;
  }

  /** the entry of one request within its call's record (parts are path segments or Twilio values, JSON keeps them apart) */
  private entry(id: ReplayIdentity): string {
    const parts = JSON.stringify(id.parts);
    let entry = this.entries.get(parts);
    if (entry === undefined) {
      entry = createHmac('sha256', this.secret).update(parts).digest('hex');
      // a first webhook's or a gather's parts are the same for every call: one HMAC each, kept
      if ((id.parts[0] === 'voice' || id.parts[0] === 'gather') && this.entries.size < SHARED_ENTRIES_MAX) this.entries.set(parts, entry);
    }
    return entry;
  }

  /**
   * 'first' when this request should run, with what each of `readKeys` held as it claimed;
   * otherwise the first request's answer (null: unknown)
   */
  async claim(id: ReplayIdentity, readKeys: string[] = []): Promise<Claim> {
    const key = this.keyOf(id);
    const entry = this.entry(id);
    const res = await this.store.claimField(key, entry, PENDING_JSON, REPLAY_TTL_SECONDS, readKeys);
    if (res.claimed) return readKeys.length > 0 ? { first: true, reads: res.reads } : { first: true };
    let seen = parseEntry(res.held);
    for (let waited = 0; waited <= WAIT_MAX_MS; waited += WAIT_STEP_MS) {
      if (seen === undefined) return { first: false, answer: null };
      if (seen !== PENDING) return { first: false, answer: seen };
      await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
      seen = parseRecord(await this.store.get(key))[entry];
    }
    return { first: false, answer: null };
  }

  /**
   * The record of a call whose first request is answered already: claim and remember in one
   * write, for a caller that creates it together with the call's other new records
   * (store.createAll: a call's first webhook in one round trip).
   */
  answeredRecord(id: ReplayIdentity, answer: StoredAnswer): StoreRecord {
    const entry = this.entry(id);
    const { status, contentType, body } = answer;
    let last = this.lastAnswered;
    if (!last || last.entry !== entry || last.body !== body || last.status !== status || last.contentType !== contentType) {
      last = { entry, status, contentType, body, text: JSON.stringify({ [entry]: storable({ status, contentType, body }) }) };
      this.lastAnswered = last;
    }
    return { key: this.recordKey(id.callSid), value: last.text, ttlSeconds: REPLAY_TTL_SECONDS };
  }

  /**
   * The last record answeredRecord made and what it made it from. A flow's plain opening is the
   * same answer (the same TwiML string) for every call to it, so the record's text (the body
   * scanned for lone surrogates, then escaped into JSON) is made once, not per call. The text is
   * made from these four alone (the call is in the record's key, not its text), so it is reused
   * only for the same four.
   */
  private lastAnswered?: { entry: string; status: number; contentType: string; body: string; text: string };

  /** `remember` as a write, for a handler that makes it within its own atomic write (store.compareAndSetAll) */
  rememberOp(id: ReplayIdentity, answer: StoredAnswer): StoreOp {
    return { op: 'jsonSet', key: this.keyOf(id), field: this.entry(id), value: JSON.stringify(storable(answer)), ttlSeconds: REPLAY_TTL_SECONDS };
  }

  async remember(id: ReplayIdentity, answer: StoredAnswer): Promise<void> {
    await this.store.multi([this.rememberOp(id, answer)]);
  }

  /** the first request failed before answering: let a retry run it afresh */
  async release(id: ReplayIdentity): Promise<void> {
    await this.store.multi([{ op: 'jsonDel', key: this.keyOf(id), field: this.entry(id) }]);
  }

  /** erasure: every remembered answer of the call */
  async forget(callSid: string): Promise<void> {
    await this.store.del(this.recordKey(callSid));
  }
}

/**
 * The answer with any lone surrogate in its body as U+FFFD: the bytes Twilio receives are the
 * same (UTF-8 cannot carry a lone surrogate, so Node sends U+FFFD for one), and the store's JSON
 * records take only well-formed text (store/json-field.ts).
 */
function storable(a: StoredAnswer): StoredAnswer {
  return { ...a, body: a.body.replace(LONE_SURROGATE, '\uFFFD') };
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** one entry as the store holds it (JSON text): pending, an answer, or undefined when it is neither */
function parseEntry(held: string): AnswersRecord[string] | undefined {
  try {
    const r = answersRecord.safeParse({ entry: JSON.parse(held) });
    return r.success ? r.data.entry : undefined;
  } catch {
    return undefined;
  }
}

function parseRecord(raw: string | null): AnswersRecord {
  if (raw === null) return {};
  try {
    const r = answersRecord.safeParse(JSON.parse(raw));
    return r.success ? r.data : {};
  } catch {
    return {};
  }
}
