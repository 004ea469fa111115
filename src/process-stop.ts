/**
 * The process's stop on SIGTERM or SIGINT (server.ts), each step within its time, so that a step
 * that hangs cannot take the audit trail's held entries with it:
 *
 * - the drain: not ready from the signal on, captures and streams ended, the port kept open for
 *   SHUTDOWN_DRAIN_MS (server.ts says why);
 * - the close (the app's: in-flight requests finished, the sockets closed, every service stopped,
 *   the held audit entries' last try, the store closed), until END_RESERVE_MS before the
 *   contract's 10 s. A drain and close that end in time exit as asked (0 for a signal);
 * - past that time, whichever step is still under way (an in-flight request that never ends, a
 *   stop that waits on a store that does not answer) is left to the exit: the held audit entries
 *   get their last try, within LAST_TRY_MS, and what it did not write is counted
 *   (`tonewall_audit_appends_failed_total{reason="not-written"}`) and logged, each call's line and
 *   then their number in one (`audit entries not written at shutdown`), before the exit, 1.
 *
 * A second signal during the drain or the close stops at once: the rest skipped, the same last
 * try and count, exit 1. One that comes during that last try changes nothing (it is bounded).
 * The deadline's own timer stays, a backstop for a last try that somehow outlived its bound.
 */
import { errFields, type Logger } from './log';

/** the contract's bound on a graceful stop (CONTRACT §8) */
export const SHUTDOWN_DEADLINE_MS = 10_000;
/**
 * The held audit entries' last try when the close did not end in its time, or after a second
 * signal. A store that answers writes them in a round trip or two (milliseconds); one that does
 * not fails each command at its 500 ms bound (store/redis.ts), so this is a try, not a wait.
 */
export const LAST_TRY_MS = 600;
/** what the close leaves of the deadline: the last try, its count and log lines, and the exit (server.ts waits up to 200 ms for the log to be out) */
export const END_RESERVE_MS = 1_000;

export interface ProcessStopDeps {
  log: Logger;
  /** from the signal on, not ready: /readyz 503, new calls passed on, new agent sockets refused */
  markDraining(): void;
  /** captures and streams ended (LiveCalls.drain) */
  drain(): Promise<void>;
  /** the app's close (Fastify's: its hooks, the held audit entries' last try among them) */
  close(): Promise<void>;
  /** the held audit entries' last try within `budgetMs`, what it did not write counted and logged (AuditTrail.close) */
  lastTry(budgetMs: number): Promise<number>;
  exit(code: number): void;
  /** tests shorten it; SHUTDOWN_DEADLINE_MS */
  deadlineMs?: number;
}

type Phase = 'running' | 'stopping' | 'ending';

export class ProcessStop {
  private phase: Phase = 'running';
  /** the step under way, for the line that says which one did not end in time */
  private step: 'drain' | 'close' = 'drain';

  constructor(private readonly d: ProcessStopDeps) {}

  /**
   * A signal, or the service's own reason to stop (`exitCode` 1, `drainMs` 0: a REST
   * configuration Twilio refused). The first starts the stop; a second during it ends it at once.
   */
  signal(signal: string, drainMs: number, exitCode = 0): void {
    if (this.phase === 'running') {
      this.begin(signal, drainMs, exitCode);
      return;
    }
    if (this.phase === 'stopping') {
      this.d.log.warn({ signal, step: this.step }, 'second signal: stopping now, the rest of the stop skipped');
      void this.end(1);
      return;
    }
    this.d.log.info({ signal }, 'signal during the last step of the stop: already ending');
  }

  private begin(signal: string, drainMs: number, exitCode: number): void {
    this.phase = 'stopping';
    const startedAt = Date.now();
    const deadlineMs = this.d.deadlineMs ?? SHUTDOWN_DEADLINE_MS;
    this.d.markDraining();
    this.d.log.info({ signal, drainMs }, 'shutting down: no new calls, closing streams');
    setTimeout(() => {
      this.d.log.error('shutdown deadline passed: exiting');
      this.d.exit(1);
    }, deadlineMs).unref();
    // the wait runs from the signal, beside the streams' and captures' end (a capture's resume may
    // take seconds): after it, a long drain would leave the close none of the 10 s. A drain that
    // failed is logged, and the close still runs (held audit entries' last try, the store's close).
    const drained =
      drainMs > 0
        ? Promise.all([
            this.d.drain().catch((err: unknown) => this.d.log.error({ err: errFields(err) }, 'drain failed: closing')),
            new Promise<void>((r) => setTimeout(r, drainMs)),
          ])
        : Promise.resolve();
    const closed = drained.then(() => {
      // a second signal ended the stop meanwhile: no close under its last try (the store closing beneath it)
      if (this.phase !== 'stopping') return;
      this.step = 'close';
      return this.d.close();
    });
    const budgetMs = Math.max(0, startedAt + deadlineMs - END_RESERVE_MS - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const overran = new Promise<'overran'>((r) => (timer = setTimeout(() => r('overran'), budgetMs)));
    void Promise.race([closed.then(() => 'closed' as const), overran]).then(
      (outcome) => {
        clearTimeout(timer);
        if (outcome === 'closed') return this.end(exitCode);
        if (this.phase !== 'stopping') return;
        this.d.log.error({ step: this.step, budgetMs }, 'shutdown step did not end in its time: the held audit entries get their last try, then exit');
        return this.end(1);
      },
      (err: unknown) => {
        clearTimeout(timer);
        this.d.log.error({ err: errFields(err) }, 'shutdown failed');
        return this.end(1);
      },
    );
  }

  /** the held audit entries' last try (once the close ran it, nothing is left: at once), then the exit */
  private async end(code: number): Promise<void> {
    if (this.phase === 'ending') return;
    this.phase = 'ending';
    try {
      await this.d.lastTry(LAST_TRY_MS);
    } catch (err) {
      this.d.log.error({ err: errFields(err) }, 'held audit entries: their last try failed');
    }
    this.d.exit(code);
  }
}
