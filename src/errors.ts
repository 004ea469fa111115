/**
 * One catalogue of coded errors (TW_ERR_<AREA>_<WHAT>). Messages are fixed text: no error message
 * ever carries a captured value or a caller number.
 */
export class TonewallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 500,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TonewallError';
  }
}

const make =
  (code: string, message: string, statusCode = 500) =>
  (options?: { cause?: unknown; detail?: string }) =>
    new TonewallError(code, options?.detail ? `${message}: ${options.detail}` : message, statusCode, options);

export const Errors = {
  storeUnavailable: make('TW_ERR_STORE_UNAVAILABLE', 'the store is unreachable', 503),
  flowInvalid: make('TW_ERR_FLOW_INVALID', 'flow file is invalid'),
  flowNotFound: make('TW_ERR_FLOW_NOT_FOUND', 'no flow for this number', 404),
  callNotFound: make('TW_ERR_CALL_NOT_FOUND', 'call not found', 404),
  recordingPauseFailed: make('TW_ERR_RECORDING_PAUSE_FAILED', 'the recording could not be paused', 503),
  recordingResumeFailed: make('TW_ERR_RECORDING_RESUME_FAILED', 'the recording could not be resumed', 502),
  twilioRest: make('TW_ERR_TWILIO_REST', 'a Twilio REST request failed', 502),
  vaultTampered: make('TW_ERR_VAULT_TAMPERED', 'a vault value failed authentication', 500),
  captureRunning: make('TW_ERR_CAPTURE_RUNNING', 'a capture is already running on this call', 409),
  captureNotFound: make('TW_ERR_CAPTURE_NOT_FOUND', 'capture not found', 404),
  notBridged: make('TW_ERR_CALL_NOT_BRIDGED', 'the call is not bridged', 409),
  unauthorized: make('TW_ERR_AUTH_UNAUTHORIZED', 'missing or invalid token', 401),
  forbidden: make('TW_ERR_AUTH_FORBIDDEN', 'this role may not use this route', 403),
  badRequest: make('TW_ERR_REQUEST_INVALID', 'invalid request', 400),
  conflict: make('TW_ERR_CONFLICT', 'conflict', 409),
  paymentOpen: make('TW_ERR_PAYMENT_OPEN', 'a payment session is already open on this call', 409),
  paymentNotFound: make('TW_ERR_PAYMENT_NOT_FOUND', 'payment session not found', 404),
  paymentEnded: make('TW_ERR_PAYMENT_ENDED', 'the payment session has ended', 409),
  paymentUnknownField: make('TW_ERR_PAYMENT_UNKNOWN_FIELD', 'the payment session has no such field', 400),
  paymentIncomplete: make('TW_ERR_PAYMENT_INCOMPLETE', 'fields still to gather', 409),
  timeout: make('TW_ERR_TIMEOUT', 'timed out', 504),
  rateLimited: make('TW_ERR_RATE_LIMITED', 'too many requests', 429),
  busMessageInvalid: make('TW_ERR_BUS_MESSAGE_INVALID', 'a message for other instances does not fit its schema'),
  busTimeout: make('TW_ERR_BUS_TIMEOUT', 'the instance asked did not answer in time', 504),
  busRemoteFailed: make('TW_ERR_BUS_REMOTE_FAILED', 'the instance asked failed to answer', 502),
  busReplyInvalid: make('TW_ERR_BUS_REPLY_INVALID', 'the instance asked answered with a malformed reply', 502),
  busClosed: make('TW_ERR_BUS_CLOSED', 'the bus closed before the instance asked answered', 503),
} as const;

export function isTonewallError(e: unknown): e is TonewallError {
  return e instanceof TonewallError;
}
