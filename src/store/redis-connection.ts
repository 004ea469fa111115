/**
 * One ioredis connection as the store makes them (no offline queue, its bounds, its reconnects),
 * and the bound on each command's answer that the store and its subscriber apply.
 */
import Redis from 'ioredis';
import { StoreErrors } from '../errors';

/** how long Redis has to answer a command while this process runs, before it counts as unreachable */
export const COMMAND_TIMEOUT_MS = 500;
/**
 * ioredis's own command timeout, a backstop only: its timer fires in the event loop's timers
 * phase, before the poll phase reads what arrived meanwhile, so after a stall (the process not
 * scheduled on a busy host, a long GC) it failed commands Redis had answered in time: a false
 * outage, the caller's apology. `answered` applies COMMAND_TIMEOUT_MS itself, stall-aware.
 */
const COMMAND_BACKSTOP_MS = 5_000;
const CONNECT_TIMEOUT_MS = 2_000;

/**
 * `reply`, or a failure once `timeoutMs` has passed without it. The timer's end waits one
 * turn of the event loop (setImmediate runs after the poll phase): an answer that reached the
 * socket while the process was stalled is read first, and only a command Redis has truly left
 * unanswered fails, within the bound and a turn.
 */
export function answeredWithin<T>(reply: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          settled = true;
          reject(StoreErrors.unavailable({ detail: `Redis did not answer within ${timeoutMs} ms` }));
        }),
      timeoutMs,
    );
    reply.then(
      (v) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
export function connection(url: string, opts: { autoPipelining?: boolean; autoResubscribe?: boolean } = {}): Redis {
  return new Redis(url, {
    enableAutoPipelining: opts.autoPipelining ?? false,
    autoResubscribe: opts.autoResubscribe ?? true,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_BACKSTOP_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // keep trying to come back, but never faster than every 500 ms nor slower than every 2 s
    retryStrategy: (times) => Math.min(500 * times, 2_000),
    // a failover behind one endpoint (a DNS name, a virtual IP) leaves this connection on the old
    // primary, now a replica answering every write READONLY (and every ping, so /readyz would say
    // ready): the command fails as an outage does, and the connection is made again, to the
    // endpoint's new primary, instead of refusing every write until the process is restarted
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  });
}
