/**
 * One catalogue of coded errors (TW_ERR_<AREA>_<WHAT>), one file per area in errors/, all
 * re-exported here. Messages are fixed text: no error message ever carries a captured value or a
 * caller number. The catalogue is base level: it imports nothing but its own files.
 */
import { AgentErrors } from './errors/agents';
import { AuditErrors } from './errors/audit';
import { AuthErrors } from './errors/auth';
import { BusErrors } from './errors/bus';
import { CallErrors } from './errors/calls';
import { CaptureErrors } from './errors/captures';
import { ConfigError } from './errors/config';
import { DropinErrors } from './errors/dropin';
import { FlowErrors } from './errors/flows';
import { MediaErrors } from './errors/media';
import { PaymentErrors, PaymentRefused } from './errors/payments';
import { PrivacyErrors } from './errors/privacy';
import { ProcessorErrors, ProcessorsConfigError } from './errors/processors';
import { RecordingErrors } from './errors/recording';
import { RequestErrors } from './errors/request';
import { StoreErrors } from './errors/store';
import { TwilioErrors } from './errors/twilio';
import { VaultErrors } from './errors/vault';

export { TonewallError, errorCode, isTonewallError, type Coded, type ErrorExtras, type TonewallErrorOptions } from './errors/base';
export { MalformedJsonBody, refuseMalformedBody } from './errors/request';
export {
  AgentErrors,
  AuditErrors,
  AuthErrors,
  BusErrors,
  CallErrors,
  CaptureErrors,
  ConfigError,
  DropinErrors,
  FlowErrors,
  MediaErrors,
  PaymentErrors,
  PaymentRefused,
  PrivacyErrors,
  ProcessorErrors,
  ProcessorsConfigError,
  RecordingErrors,
  RequestErrors,
  StoreErrors,
  TwilioErrors,
  VaultErrors,
};

/** The short names the code used before the catalogue was split by area; same entries, same codes. */
export const Errors = {
  storeUnavailable: StoreErrors.unavailable,
  flowInvalid: FlowErrors.invalid,
  flowNotFound: FlowErrors.notFound,
  callNotFound: CallErrors.notFound,
  recordingPauseFailed: RecordingErrors.pauseFailed,
  recordingResumeFailed: RecordingErrors.resumeFailed,
  twilioRest: TwilioErrors.rest,
  vaultTampered: VaultErrors.tampered,
  captureRunning: CaptureErrors.running,
  captureNotFound: CaptureErrors.notFound,
  notBridged: CallErrors.notBridged,
  unauthorized: AuthErrors.unauthorized,
  forbidden: AuthErrors.forbidden,
  badRequest: RequestErrors.invalid,
  conflict: RequestErrors.conflict,
  paymentOpen: PaymentErrors.open,
  paymentNotFound: PaymentErrors.notFound,
  paymentEnded: PaymentErrors.ended,
  paymentUnknownField: PaymentErrors.unknownField,
  paymentIncomplete: PaymentErrors.incomplete,
  timeout: RequestErrors.timeout,
  rateLimited: RequestErrors.rateLimited,
  busMessageInvalid: BusErrors.messageInvalid,
  busTimeout: BusErrors.timeout,
  busRemoteFailed: BusErrors.remoteFailed,
  busReplyInvalid: BusErrors.replyInvalid,
  busClosed: BusErrors.closed,
} as const;

const AREAS = [
  AgentErrors,
  AuditErrors,
  AuthErrors,
  BusErrors,
  CallErrors,
  CaptureErrors,
  DropinErrors,
  FlowErrors,
  MediaErrors,
  PaymentErrors,
  PrivacyErrors,
  ProcessorErrors,
  RecordingErrors,
  RequestErrors,
  StoreErrors,
  TwilioErrors,
  VaultErrors,
];
const CLASSES = [ConfigError, PaymentRefused, ProcessorsConfigError];

/** Every code in the catalogue, one entry per catalogue entry (a duplicate code shows as two). */
export const CATALOGUE_CODES: readonly string[] = Object.freeze([
  ...AREAS.flatMap((area) => Object.values(area).map((entry) => entry.code)),
  ...CLASSES.map((c) => c.code),
]);

/** Codes older than the TW_ERR_<AREA>_<WHAT> rule that clients match on; no code joins this list. */
export const LEGACY_CODES: readonly string[] = Object.freeze(['TW_ERR_CONFLICT', 'TW_ERR_INTERNAL', 'TW_ERR_TIMEOUT']);
