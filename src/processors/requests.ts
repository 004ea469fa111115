/**
 * One try of a delivery, per protocol: read the values from the vault, build the request, send
 * it, and read the answer into an outcome and an allow-listed summary. The plain values live in
 * the closure of one try only and are never logged; a failure is a fixed reason.
 */
import type { Logger } from 'pino';
import type { CallSession } from '../calls/session';
import { CALLER_VAULT_FIELD } from '../calls/session';
import type { Vault } from '../vault';
import type { GenericPayProcessorConfig, ProcessorConfig, TonewallProcessorConfig } from './config';
import { type CardValues, connectorRequest, readConnectorAnswer, resolveRoles, transactionId } from './generic-pay';
import { basicAuthorization, postJson, postSigned } from './http';
import { deliveryRound, idempotencyKey } from './records';
import { type ProcessorSummary, summarizeAnswer } from './summary';

export interface TryOutcome {
  ok: boolean;
  status?: number;
  reason?: 'http' | 'network' | 'timeout' | 'malformed-answer';
  body?: ProcessorSummary;
  /** a failure that another try would not change: given up at once */
  final?: boolean;
}

export interface PreparedTry {
  send(fetchImpl: typeof fetch): Promise<TryOutcome>;
}

/** why a try could not even be built: nothing was sent */
export type NotPrepared = { failed: 'values-gone' | 'field-mapping' };

export interface TryDeps {
  vault: Vault;
  log: Logger;
}

export async function prepareTry(deps: TryDeps, session: CallSession, processor: ProcessorConfig): Promise<PreparedTry | NotPrepared> {
  return processor.protocol === 'twilio-generic-pay' ? prepareGenericPay(deps, session, processor) : prepareTonewall(deps, session, processor);
}

/** the plain value of one of the call's fields, or null when it is no longer valid or in the vault */
async function valueOf(vault: Vault, session: CallSession, name: string): Promise<string | null> {
  const f = session.fields[name];
  if (!f?.valid || !f.token) return null;
  return vault.get(session.callSid, name, f.token);
}

/**
 * CONTRACT §6: `{purpose, idempotencyKey, callSid, subject, fields}`, signed. `purpose` and the
 * key are inside the signature so that this body is no erasure at `eraseUrl` and, sent again
 * under another Idempotency-Key header, no second charge (sign.ts).
 */
async function prepareTonewall({ vault, log }: TryDeps, session: CallSession, processor: TonewallProcessorConfig): Promise<PreparedTry | NotPrepared> {
  const fields: Record<string, string> = {};
  for (const name of processor.fields) {
    const value = await valueOf(vault, session, name);
    if (value === null) return { failed: 'values-gone' };
    fields[name] = value;
  }
  let subject: string | null = null;
  if (session.fromToken) {
    subject = await vault.get(session.callSid, CALLER_VAULT_FIELD, session.fromToken);
    if (subject === null) log.warn({ callSid: session.callSid, processor: processor.name }, 'caller number no longer in the vault: subject sent as null');
  }
  const sent = [...Object.values(fields), ...(subject ? [subject, subject.replace(/^\+/, '')] : [])];
  const key = idempotencyKey(session.callSid, processor.name, deliveryRound(session));
  const body = JSON.stringify({ purpose: 'delivery', idempotencyKey: key, callSid: session.callSid, subject, fields });
  return {
    async send(fetchImpl) {
      const answered = await postSigned(fetchImpl, processor.url, body, processor.secret, key);
      // the answer goes to the agent as an allow-listed summary only: no free text, nothing sent
      const summary = summarizeAnswer(answered.body, sent);
      return {
        ok: answered.ok,
        ...(answered.status !== undefined ? { status: answered.status } : {}),
        ...(answered.ok ? {} : { reason: answered.reason }),
        ...(summary ? { body: summary } : {}),
      };
    },
  };
}

/** Twilio's Generic Pay Connector request (generic-pay.ts), HTTP Basic auth */
async function prepareGenericPay({ vault }: TryDeps, session: CallSession, processor: GenericPayProcessorConfig): Promise<PreparedTry | NotPrepared> {
  const roles = resolveRoles(processor.fields, session.fields, processor.connector.connectorFields);
  if (roles === null) return { failed: 'field-mapping' };
  const card: Partial<CardValues> = {};
  for (const [role, name] of Object.entries(roles) as [keyof CardValues, string][]) {
    const value = await valueOf(vault, session, name);
    if (value === null) return { failed: 'values-gone' };
    card[role] = value;
  }
  const txn = transactionId(session.callSid, processor.name, deliveryRound(session));
  const body = JSON.stringify(connectorRequest(processor.connector, txn, card as CardValues));
  const sent = Object.values(card).filter((v): v is string => typeof v === 'string');
  const cardField = session.fields[roles.cardnumber!];
  const shownCard = { ...(cardField?.last4 ? { last4: cardField.last4 } : {}), ...(cardField?.brand ? { brand: cardField.brand } : {}) };
  return {
    async send(fetchImpl) {
      const answered = await postJson(fetchImpl, processor.url, body, {
        authorization: basicAuthorization(processor.username, processor.password),
        // not part of Twilio's request; a gateway that knows the header gets the same key as transaction_id
        'Idempotency-Key': txn,
      });
      const status = answered.status !== undefined ? { status: answered.status } : {};
      if (!answered.ok) return { ok: false, ...status, reason: answered.reason };
      const verdict = readConnectorAnswer(answered.body, processor.connector.method, sent);
      // the gateway answered but not in the connector's shape: asking again would not change that
      if (verdict.kind === 'malformed') return { ok: false, ...status, reason: 'malformed-answer', final: true };
      return { ok: true, ...status, body: { ...verdict.summary, ...shownCard } };
    },
  };
}
