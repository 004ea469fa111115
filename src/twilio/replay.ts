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
 * The answers of one call live in one record (`keys.webhookReplay(hmac(CallSid))`), refreshed
 * to the call record's TTL at every webhook of the call, so replay memory lasts as long as the
 * call record does and an erasure removes all of it at once (`forget`). The record is named by
 * an HMAC of the CallSid under a service secret, so the store does not name the call in plain.
 * The first request claims its identity (atomic read-modify-write) and stores its answer; a
 * duplicate that arrives while the first is still running waits for that answer.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { CALL_TTL_SECONDS } from '../calls/session';
import { RecentValues, type Keys, type Store, type StoreRecord } from '../store';

/** as long as the call record: refreshed with every webhook of the call, like the record itself */
export const REPLAY_TTL_SECONDS = CALL_TTL_SECONDS;
const PENDING = 'pending';
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

export type Claim = { first: true } | { first: false; answer: StoredAnswer | null };

export class ReplayGuard {
  /**
   * Each call's record as this process last wrote it: claim and remember go straight to
   * compare-and-set (a call's first webhook finds no record), one round trip each, not two.
   */
  private readonly recent = new RecentValues();

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

  /** 'first' when this request should run; otherwise the first request's answer (null: unknown) */
  async claim(id: ReplayIdentity): Promise<Claim> {
    const key = this.recordKey(id.callSid);
    const entry = this.entry(id);
    let seen: AnswersRecord[string] | undefined;
    await this.write(key, (all) => {
      seen = all[entry];
      if (seen !== undefined) return false;
      all[entry] = PENDING;
    });
    if (seen === undefined) return { first: true };
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
   * (store.createAll: a call's first webhook in one round trip); `written` once it was.
   */
  answeredRecord(id: ReplayIdentity, answer: StoredAnswer): StoreRecord {
    return { key: this.recordKey(id.callSid), value: JSON.stringify({ [this.entry(id)]: answer }), ttlSeconds: REPLAY_TTL_SECONDS };
  }

  written(record: StoreRecord): void {
    this.recent.remember(record.key, record.value);
  }

  async remember(id: ReplayIdentity, answer: StoredAnswer): Promise<void> {
    const entry = this.entry(id);
    await this.write(this.recordKey(id.callSid), (all) => {
      all[entry] = answer;
    });
  }

  /** the first request failed before answering: let a retry run it afresh */
  async release(id: ReplayIdentity): Promise<void> {
    const entry = this.entry(id);
    await this.write(this.recordKey(id.callSid), (all) => {
      if (!(entry in all)) return false;
      delete all[entry];
    });
  }

  /** erasure: every remembered answer of the call */
  async forget(callSid: string): Promise<void> {
    const key = this.recordKey(callSid);
    this.recent.forget(key);
    await this.store.del(key);
  }

  /** read-modify-write of a call's record (`change` returns false to leave it), from the last known value */
  private async write(key: string, change: (all: AnswersRecord) => void | false): Promise<void> {
    const stored = await this.store.update(
      key,
      (cur) => {
        const all = parseRecord(cur);
        return change(all) === false ? undefined : JSON.stringify(all);
      },
      REPLAY_TTL_SECONDS,
      { guess: this.recent.guess(key) ?? null },
    );
    this.recent.remember(key, stored);
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
