/**
 * Twilio's Generic Pay Connector protocol (`protocol: twilio-generic-pay`), so that a gateway
 * that already takes Twilio's connector takes tonewall's captures unchanged:
 *
 * - one JSON POST per call to the processor's `url`, with HTTP Basic auth (the user name and
 *   password set on the connector at Twilio; here the texts of `usernameEnv`/`passwordEnv`);
 * - the body Twilio sends: `transaction_id`, `method` (`charge` | `tokenize`), `cardnumber`,
 *   `cvv`, `expiry_month` and `expiry_year` (two digits each, as the caller keys them),
 *   `postal_code`, `description`, `amount` and `currency_code` (charge), `token_type`
 *   (tokenize) and `parameters` (<Pay>'s <Parameter> nouns). Keys with nothing to send are left
 *   out; the caller's number is never sent (Twilio's connector has no place for it);
 * - the answer: `{charge_id | token_id, error_code, error_message}`, HTTP 200 for a decline too
 *   (`error_code` set). The id becomes the summary's `reference` (charge) or `token`
 *   (tokenize), as <Pay> hands PaymentConfirmationCode / PaymentToken to the application: a
 *   token stands for the card but is not card data. `error_message` is free text and is never
 *   shown; `last4` and `brand` come from the call's own masked field, never from the answer.
 *
 * `transaction_id` is the same on every try of a delivery (derived from the call and the
 * processor), which is what a connector gateway deduplicates Twilio's own retries on.
 */
import { createHash } from 'node:crypto';
import type { FieldKind, FieldState } from '../fields';
import type { GenericPaySettings } from './config';
import { scrubAnswer } from './scrub';
import type { ProcessorSummary } from './summary';

export type ConnectorRole = 'cardnumber' | 'expiry' | 'cvv' | 'postal_code';

/** the kinds a field may have to fill each connector field (a postal code kept as plain digits, named, too) */
const KINDS_OF_ROLE: Readonly<Record<ConnectorRole, readonly FieldKind[]>> = {
  cardnumber: ['card-number'],
  expiry: ['expiry'],
  cvv: ['security-code'],
  postal_code: ['postal-code', 'digits'],
};
/** the kind a role is found by when the file does not name its field (a digits field is not assumed to be a postal code) */
const KIND_OF_ROLE: Readonly<Record<ConnectorRole, FieldKind>> = {
  cardnumber: 'card-number',
  expiry: 'expiry',
  cvv: 'security-code',
  postal_code: 'postal-code',
};
const ROLES_BY_KIND: readonly ConnectorRole[] = ['cardnumber', 'expiry', 'cvv', 'postal_code'];
const REQUIRED_ROLES: readonly ConnectorRole[] = ['cardnumber', 'expiry'];

export type RoleMap = Partial<Record<ConnectorRole, string>>;

/**
 * Which of the processor's fields fills which connector field: the file's `connectorFields`
 * first, then, for a role it does not name, the one field of the matching kind among the rest.
 * null when a card number or expiry has no field, a role matches two fields, or a named field
 * has the wrong kind: the delivery then fails once, with a fixed reason, and sends nothing.
 */
export function resolveRoles(
  fields: readonly string[],
  states: Readonly<Record<string, Pick<FieldState, 'kind'> | undefined>>,
  named: GenericPaySettings['connectorFields'],
): RoleMap | null {
  const roles: RoleMap = {};
  const taken = new Set<string>();
  for (const role of Object.keys(KINDS_OF_ROLE) as ConnectorRole[]) {
    const name = named[role];
    if (name === undefined) continue;
    const kind = states[name]?.kind;
    if (kind === undefined || !KINDS_OF_ROLE[role].includes(kind)) return null;
    roles[role] = name;
    taken.add(name);
  }
  for (const role of ROLES_BY_KIND) {
    if (roles[role] !== undefined) continue;
    const matches = fields.filter((f) => !taken.has(f) && states[f]?.kind === KIND_OF_ROLE[role]);
    if (matches.length > 1) return null;
    if (matches.length === 1) roles[role] = matches[0];
  }
  return REQUIRED_ROLES.every((r) => roles[r] !== undefined) ? roles : null;
}

export interface CardValues {
  cardnumber: string;
  /** MMYY, as the expiry kind holds it */
  expiry: string;
  cvv?: string;
  postal_code?: string;
}

/** The request body, in the order Twilio's connector writes it. */
export function connectorRequest(settings: GenericPaySettings, transactionId: string, card: CardValues): Record<string, unknown> {
  return {
    transaction_id: transactionId,
    cardnumber: card.cardnumber,
    ...(card.cvv !== undefined ? { cvv: card.cvv } : {}),
    expiry_month: card.expiry.slice(0, 2),
    expiry_year: card.expiry.slice(2, 4),
    ...(settings.description !== undefined ? { description: settings.description } : {}),
    ...(settings.method === 'charge' ? { amount: settings.amount, currency_code: settings.currency } : {}),
    ...(card.postal_code !== undefined ? { postal_code: card.postal_code } : {}),
    method: settings.method,
    ...(settings.method === 'tokenize' ? { token_type: settings.tokenType } : {}),
    ...(settings.parameters !== undefined ? { parameters: settings.parameters } : {}),
  };
}

/**
 * Stable per call, processor and round (records.ts deliveryRound), shaped like Twilio's transaction ids (a UUID: RFC 9562
 * version 8, the bits taken from a SHA-256 of the pair), and naming neither.
 */
export function transactionId(callSid: string, processor: string, round?: string): string {
  const h = createHash('sha256')
    .update(`tonewall:generic-pay\0${callSid}\0${processor}${round ? `\0${round}` : ''}`)
    .digest();
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export type ConnectorVerdict =
  /** the gateway charged or tokenized: `charge_id` / `token_id` set, no `error_code` */
  | { kind: 'approved'; summary: ProcessorSummary }
  /** the gateway refused it: `error_code` set. An answer, not a failure to deliver: never retried */
  | { kind: 'declined'; summary: ProcessorSummary }
  /** a 2xx that is not the connector's answer */
  | { kind: 'malformed' };

/** ids and tokens: printable, no spaces, as long as a gateway's token can reasonably be */
const CONNECTOR_ID = /^[A-Za-z0-9][A-Za-z0-9_.:+/=-]{0,127}$/;
/**
 * Twelve digits in a row (separators dropped) could be a card number (ISO/IEC 7812 numbers on
 * payment cards have 12 to 19): refused. Shorter runs are let through: unlike the tonewall
 * protocol's free-form answers, this gateway was never sent the caller's number, and a
 * gateway's UUID or hex id holds runs of 7 digits often.
 */
const PAN_RUN = /\d{12,}/;
/** error codes: 'card_declined', 'expired001', 'UE_9000', '05' */
const ERROR_CODE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const PHONE_RUN = /\d{7,}/;

export function readConnectorAnswer(answer: unknown, method: GenericPaySettings['method'], sent: readonly string[]): ConnectorVerdict {
  if (!answer || typeof answer !== 'object' || Array.isArray(answer)) return { kind: 'malformed' };
  const a = answer as Record<string, unknown>;
  const clean = (v: string): boolean => scrubAnswer(v, sent) === v;
  const errorCode = typeof a.error_code === 'number' && Number.isSafeInteger(a.error_code) ? String(a.error_code) : a.error_code;
  if (typeof errorCode === 'string' && errorCode.length > 0) {
    const shown = ERROR_CODE.test(errorCode) && !PHONE_RUN.test(errorCode) && clean(errorCode);
    return { kind: 'declined', summary: { approved: false, status: 'declined', ...(shown ? { code: errorCode } : {}) } };
  }
  if (errorCode !== undefined && errorCode !== null && errorCode !== '') return { kind: 'malformed' };
  const id = a[method === 'charge' ? 'charge_id' : 'token_id'];
  if (typeof id !== 'string' || id.length === 0) return { kind: 'malformed' };
  const shown = CONNECTOR_ID.test(id) && !PAN_RUN.test(id.replace(/[^A-Za-z0-9]/g, '')) && clean(id);
  const summary: ProcessorSummary = { approved: true, status: method === 'charge' ? 'charged' : 'tokenized' };
  if (shown) summary[method === 'charge' ? 'reference' : 'token'] = id;
  return { kind: 'approved', summary };
}
