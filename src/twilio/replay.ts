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
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { CALL_TTL_SECONDS } from '../calls/session';
import type { Keys, Store } from '../store';

/** as long as the call record: refreshed with every webhook of the call, like the record itself */
export const REPLAY_TTL_SECONDS = CALL_TTL_SECONDS;
const PENDING = 'pending';
const WAIT_STEP_MS = 50;
const WAIT_MAX_MS = 10_000;

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
  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly secret: Buffer,
  ) {}

  /** the store key holding every answer of one call */
  recordKey(callSid: string): string {
    return this.keys.webhookReplay(createHmac('sha256', this.secret).update('call\n' + callSid).digest('hex'));
  }

  /** the entry of one request within its call's record (parts are path segments or Twilio values, JSON keeps them apart) */
  private entry(id: ReplayIdentity): string {
    return createHmac('sha256', this.secret).update(JSON.stringify(id.parts)).digest('hex');
  }

  /** 'first' when this request should run; otherwise the first request's answer (null: unknown) */
  async claim(id: ReplayIdentity): Promise<Claim> {
    const key = this.recordKey(id.callSid);
    const entry = this.entry(id);
    let seen: AnswersRecord[string] | undefined;
    await this.store.update(
      key,
      (cur) => {
        const all = parseRecord(cur);
        seen = all[entry];
        if (seen !== undefined) return undefined;
        all[entry] = PENDING;
        return JSON.stringify(all);
      },
      REPLAY_TTL_SECONDS,
    );
    if (seen === undefined) return { first: true };
    for (let waited = 0; waited <= WAIT_MAX_MS; waited += WAIT_STEP_MS) {
      if (seen === undefined) return { first: false, answer: null };
      if (seen !== PENDING) return { first: false, answer: seen };
      await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
      seen = parseRecord(await this.store.get(key))[entry];
    }
    return { first: false, answer: null };
  }

  async remember(id: ReplayIdentity, answer: StoredAnswer): Promise<void> {
    const entry = this.entry(id);
    await this.store.update(
      this.recordKey(id.callSid),
      (cur) => {
        const all = parseRecord(cur);
        all[entry] = answer;
        return JSON.stringify(all);
      },
      REPLAY_TTL_SECONDS,
    );
  }

  /** the first request failed before answering: let a retry run it afresh */
  async release(id: ReplayIdentity): Promise<void> {
    const entry = this.entry(id);
    await this.store.update(
      this.recordKey(id.callSid),
      (cur) => {
        const all = parseRecord(cur);
        if (!(entry in all)) return undefined;
        delete all[entry];
        return JSON.stringify(all);
      },
      REPLAY_TTL_SECONDS,
    );
  }

  /** erasure: every remembered answer of the call */
  async forget(callSid: string): Promise<void> {
    await this.store.del(this.recordKey(callSid));
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
