/**
 * The REST configuration (TWILIO_API_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN) proven
 * against Twilio before a 404 may mean anything. A recording update Twilio answers 404 (20404) is
 * taken as "no recording is active, so nothing can be recorded" (recording/controller.ts), but the
 * same 404 comes back for every request when the client is pointed at the wrong place: a base URL
 * with a path of its own (`https://api.twilio.com/2010-04-01` doubles every path, and Twilio answers
 * that with its own 20404: "sending a malformed request path" is among its causes), a proxy, another
 * account's path. Every pause would then "succeed" as absent and every card be asked while the
 * flow's recording runs.
 *
 * So the service fetches its own account resource (`GET /2010-04-01/Accounts/{AccountSid}.json`),
 * which answers only when base URL, account SID and auth token are right together:
 * - Twilio's 2xx with the account's own SID: verified, and from then on a 20404 on a recording
 *   is Twilio's word that the recording is gone (the paths under a base that served the account are
 *   Twilio's);
 * - 401/403 (20003: the SID and token do not go together): refused, a ConfigError naming
 *   TWILIO_AUTH_TOKEN (never its text); every request would get the same answer, so the service
 *   does not start;
 * - anything else (a 404, another 4xx, a 2xx for another SID, no answer, 429, 5xx): unverified,
 *   logged with what to fix when the answer says it (a 404 or a 2xx for another account is logged
 *   as an error, with the base URL's path when it has one). The service starts: the contract's REST
 *   API is calls and recordings, and a REST API that serves those but not the account resource (an
 *   emulator of a test's own, a proxy that forwards only what the service uses) is not wrong. A
 *   404 on a recording update is then taken as "absent" only when a list of the call's recordings
 *   shows none active (recording/controller.ts `listedAbsent`): under a misconfigured base URL that
 *   list fails too, and the pause fails closed. The check is tried again with backoff until it
 *   settles; `/readyz` reports its state without depending on it (the contract's readiness is the
 *   store and the flows).
 * The account resource carries the auth token (`auth_token`): nothing of its body is logged.
 */
import type { Logger } from 'pino';
import { restStatus } from '../calls/control';
import { ConfigError } from '../errors';
import { errFields } from '../log';

/** the first wait before the check is tried again, doubled each time */
export const REST_CHECK_RETRY_FIRST_MS = 1_000;
/** the longest wait between tries: an operator who fixed the network sees ready within this */
export const REST_CHECK_RETRY_MAX_MS = 30_000;

export type RestCheckState = 'unverified' | 'verified' | 'refused';

export interface RestCheckDeps {
  /** Twilio's account resource for the configured SID, through the service's own REST client */
  fetchAccount: () => Promise<{ sid: string }>;
  accountSid: string;
  apiBaseUrl: string;
  log: Logger;
  /** the first wait before a retry (tests shorten it); doubled up to REST_CHECK_RETRY_MAX_MS */
  retryFirstMs?: number;
}

/** the base URL as an operator would recognise it, with any credentials it holds left out */
function shownBase(apiBaseUrl: string): string {
  try {
    const u = new URL(apiBaseUrl);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return 'TWILIO_API_BASE_URL';
  }
}

/** what the answer to the account request says is wrong: the variable to fix and why, never the token */
function problem(d: RestCheckDeps, status: number | undefined, code: unknown): ConfigError {
  const asked = `GET ${shownBase(d.apiBaseUrl)}/2010-04-01/Accounts/${d.accountSid}.json`;
  const twilioCode = typeof code === 'number' ? `, ${code}` : '';
  if (status === 401 || status === 403)
    return new ConfigError(
      'TWILIO_AUTH_TOKEN',
      `TWILIO_AUTH_TOKEN was refused with TWILIO_ACCOUNT_SID by the REST API (${asked} answered ${status}${twilioCode}): set the account's own SID and its current auth token`,
    );
  const path = new URL(d.apiBaseUrl).pathname.replace(/\/+$/, '');
  const hint = path ? ` (it has a path, ${path}, which every request path is appended to: set the origin alone, e.g. https://api.twilio.com)` : '';
  if (status === undefined)
    return new ConfigError('TWILIO_API_BASE_URL', `TWILIO_API_BASE_URL answered for another account than TWILIO_ACCOUNT_SID (${asked})${hint}`);
  return new ConfigError(
    'TWILIO_API_BASE_URL',
    `TWILIO_API_BASE_URL does not serve TWILIO_ACCOUNT_SID's account (${asked} answered ${status}${twilioCode})${hint}; a 404 on a recording pause is trusted only when the call's recordings list shows none active`,
  );
}

/** the only answers that stop the service: the credentials themselves are refused */
const refused = (status: number | undefined): boolean => status === 401 || status === 403;

/** answers that may change on their own: logged as a warning, not an error */
const transient = (status: number | undefined): boolean => status === undefined || status === 429 || status >= 500;

export class RestCheck {
  private current: RestCheckState = 'unverified';
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private tries = 0;
  private readonly refusedHandlers: Array<(err: ConfigError) => void> = [];
  /** a retry's refusal, for a handler that comes after it */
  private refusedWith: ConfigError | undefined;

  constructor(private readonly d: RestCheckDeps) {}

  get state(): RestCheckState {
    return this.current;
  }

  get verified(): boolean {
    return this.current === 'verified';
  }

  /** called once when a retry is refused (the first try throws instead), at once if one was: server.ts stops the process */
  onRefused(handler: (err: ConfigError) => void): void {
    if (this.refusedWith) handler(this.refusedWith);
    else this.refusedHandlers.push(handler);
  }

  /**
   * One try: resolves with the state (verified, or unverified when Twilio could not be asked);
   * throws the ConfigError of a refusal.
   */
  async check(): Promise<RestCheckState> {
    this.tries++;
    let account: { sid: string };
    try {
      account = await this.d.fetchAccount();
    } catch (e) {
      const status = restStatus(e);
      if (refused(status)) {
        this.current = 'refused';
        throw problem(this.d, status, (e as { code?: unknown }).code);
      }
      if (transient(status))
        // the error's message only: a REST client's error may carry its request, Authorization header and all
        this.d.log.warn(
          { twilioStatus: status ?? 'network', err: errFields(e), tries: this.tries },
          'Twilio REST configuration not verified yet: no recording is taken as absent on a 404 alone until it is',
        );
      else this.unverifiedBecause(problem(this.d, status, (e as { code?: unknown }).code), status);
      return this.current;
    }
    if (account?.sid !== this.d.accountSid) {
      this.unverifiedBecause(problem(this.d, undefined, undefined), 200);
      return this.current;
    }
    this.current = 'verified';
    this.d.log.info({ accountSid: this.d.accountSid, tries: this.tries }, 'Twilio REST configuration verified');
    return this.current;
  }

  /** an answer that will not change on its own: an error the first time, naming what to fix */
  private unverifiedBecause(err: ConfigError, status: number | undefined): void {
    const level = this.tries === 1 ? 'error' : 'debug';
    this.d.log[level](
      { variable: err.variable, twilioStatus: status ?? 'network', tries: this.tries, reason: err.message },
      "Twilio REST configuration not verified: recording pauses answered 404 are checked against the call's recordings list",
    );
  }

  /** tries again with backoff until the check settles; nothing to do once it has */
  start(): void {
    this.stopped = false;
    if (this.current === 'unverified') this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const first = this.d.retryFirstMs ?? REST_CHECK_RETRY_FIRST_MS;
    const ceiling = Math.min(REST_CHECK_RETRY_MAX_MS, first * 2 ** Math.max(0, this.tries - 1));
    // half fixed, half jitter: instances restarted together do not ask Twilio all at once
    const wait = ceiling / 2 + (Math.random() * ceiling) / 2;
    this.timer = setTimeout(() => void this.retry(), wait);
    // a check that never settles must not keep a process alive on its own
    this.timer.unref();
  }

  private async retry(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    try {
      const state = await this.check();
      if (state === 'unverified' && !this.stopped) this.schedule();
    } catch (e) {
      const err = e as ConfigError;
      this.refusedWith = err;
      this.d.log.error({ variable: err.variable, err: errFields(err) }, 'Twilio REST configuration refused: the service cannot run');
      for (const handler of this.refusedHandlers) handler(err);
    }
  }
}
