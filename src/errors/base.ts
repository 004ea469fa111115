/**
 * The base of the error catalogue: the one error class every coded error is, and the factory
 * builders the area files use. Messages are fixed text: no error message ever carries a captured
 * value or a caller number.
 */
export interface TonewallErrorOptions {
  cause?: unknown;
  /**
   * The `error` a response body carries when the external contract names it differently from the
   * catalogue's code (CONTRACT §5: 503 `{error:"recording-pause-failed"}`).
   */
  wireCode?: string;
}

export class TonewallError extends Error {
  readonly wireCode?: string;

  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 500,
    options?: TonewallErrorOptions,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TonewallError';
    if (options?.wireCode !== undefined) this.wireCode = options.wireCode;
  }
}

export function isTonewallError(e: unknown): e is TonewallError {
  return e instanceof TonewallError;
}

/** what a log line or a metric names a failure by: the catalogue's code, else the error's class (never its message, which may quote input) */
export function errorCode(e: unknown): string {
  if (isTonewallError(e)) return e.code;
  return e instanceof Error ? e.name : 'unknown';
}

/** Optional extras for a fixed-message error: its cause, and a detail appended to the message (never a value). */
export interface ErrorExtras {
  cause?: unknown;
  detail?: string;
}

/** A catalogue entry: builds its error, and names its code so the catalogue can be listed. */
export type Coded<A extends unknown[] = [extras?: ErrorExtras]> = ((...args: A) => TonewallError) & { readonly code: string };

/** An entry with a fixed message; `detail` (fixed text or names, never a value) is appended after a colon. */
export function coded(code: string, message: string, statusCode = 500, wireCode?: string): Coded {
  const build = (extras?: ErrorExtras) =>
    new TonewallError(code, extras?.detail ? `${message}: ${extras.detail}` : message, statusCode, { cause: extras?.cause, wireCode });
  return Object.assign(build, { code });
}

/** An entry whose message is built from its arguments (names and reasons, never a value). */
export function codedWith<A extends unknown[]>(code: string, statusCode: number, message: (...args: A) => string): Coded<A> {
  return Object.assign((...args: A) => new TonewallError(code, message(...args), statusCode), { code });
}
