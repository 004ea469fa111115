/**
 * Agent-assisted payment sessions: Twilio's Payments subresource (`POST /Calls/{sid}/Payments`,
 * then updates with `Capture=payment-card-number|expiration-date|security-code|postal-code` or
 * `Status=complete|cancel`) on tonewall's own captures. One session gathers several fields of
 * one call; the agent asks for them in the order that suits the caller, asks again for one that
 * went wrong, and completes or cancels the whole.
 *
 * The session lives on the call record (`session.payment`), so it is erased with the call and
 * read on any instance; each field's status is read from its latest capture's record, which the
 * instance running the capture keeps current. Captured values go where every capture's go (the
 * vault, a masked field on the call); a processor is sent them only once the session completes
 * (processors/records.ts `readyFor`), as Twilio sends to its connector only on `Status=complete`.
 * A cancelled session's values are erased from the vault and the call at once.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { CallRepository } from '../calls/repository';
import type { CallSession, PaymentSession } from '../calls/session';
import { z } from 'zod';
import { isFieldKind, type CardBrand, type FieldKind } from '../fields';
import { errFields } from '../log';
import { PaymentRefused as CataloguePaymentRefused } from '../errors';
import type { CaptureService } from './service';
import type { CaptureRecord, StartResult } from './types';

export type PaymentFieldStatus = 'pending' | 'capturing' | 'valid' | 'invalid';

/** the body of `POST /v1/calls/:callSid/payments` */
export const paymentRequestSchema = z
  .object({
    /** the fields to gather; default: card, expiry and security code (and postal code when `postalCode`) */
    fields: z
      .array(
        z
          .object({
            name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a field name: a letter, then letters, digits, _ or -'),
            kind: z.string().refine(isFieldKind, 'a field kind'),
          })
          .strict(),
      )
      .min(1)
      .max(8)
      .optional(),
    postalCode: z.boolean().optional(),
    blanket: z.boolean().optional(),
  })
  .strict()
  .refine((b) => !b.fields || new Set(b.fields.map((f) => f.name)).size === b.fields.length, 'field names must be unique');

/** the body of `POST /v1/calls/:callSid/payments/:paymentId`: one of Twilio's two updates */
export const paymentUpdateSchema = z.union([
  z.object({ capture: z.string().min(1).max(64) }).strict(),
  z.object({ status: z.enum(['complete', 'cancel']) }).strict(),
]);

export type PaymentRequest = z.infer<typeof paymentRequestSchema>;
export type PaymentUpdate = z.infer<typeof paymentUpdateSchema>;

export interface PaymentFieldView {
  name: string;
  kind: FieldKind;
  status: PaymentFieldStatus;
  masked?: string;
  last4?: string;
  brand?: CardBrand;
  /** why the last capture of the field did not give a valid value */
  reason?: string;
  captureId?: string;
}

export interface PaymentView {
  paymentId: string;
  callSid: string;
  status: PaymentSession['status'];
  /** the field being keyed now, if any */
  capturing: string | null;
  /** the fields still to gather before the session can complete (Twilio's `Required`) */
  required: string[];
  fields: PaymentFieldView[];
  createdAt: string;
  endedAt?: string;
}

export type PaymentRefusal =
  'payment-open' | 'payment-not-found' | 'payment-ended' | 'unknown-field' | 'payment-incomplete' | Extract<StartResult, { ok: false }>['error'];

/** the catalogue's refusal (errors/payments.ts), its reason typed by what the sessions refuse */
export class PaymentRefused extends CataloguePaymentRefused<PaymentRefusal> {}

const DEFAULT_FIELDS: ReadonlyArray<{ name: string; kind: FieldKind }> = [
  { name: 'card', kind: 'card-number' },
  { name: 'expiry', kind: 'expiry' },
  { name: 'cvv', kind: 'security-code' },
];

export interface PaymentDeps {
  calls: CallRepository;
  captures: Pick<CaptureService, 'start' | 'cancel' | 'get'>;
  vault: { erase(token: string): Promise<void> };
  audit: { append(callSid: string, entry: { type: string; [k: string]: string | number | boolean | undefined }): Promise<void> };
  /** told of every change to a session (agents see `payment.updated`) */
  publish: (view: PaymentView) => Promise<void>;
  /** told of the call once a session completes (processor delivery) */
  onCompleted: (session: CallSession) => void;
  log: Logger;
  now?: () => number;
}

export function newPaymentId(): string {
  return `PK${randomBytes(16).toString('hex')}`;
}

export class PaymentSessions {
  private readonly now: () => number;

  constructor(private readonly d: PaymentDeps) {
    this.now = d.now ?? Date.now;
  }

  /** `actor`: who asked (AuditTrail.actor), named on the session's entries and its captures' */
  async create(session: CallSession, request: PaymentRequest, actor?: string): Promise<PaymentView> {
    const fields = request.fields ?? [...DEFAULT_FIELDS, ...(request.postalCode ? [{ name: 'postal', kind: 'postal-code' as const }] : [])];
    const payment: PaymentSession = {
      id: newPaymentId(),
      status: 'open',
      blanket: request.blanket === true,
      fields: fields.map((f) => ({ name: f.name, kind: f.kind as FieldKind })),
      createdAt: this.now(),
    };
    let refused = false;
    const updated = await this.d.calls.update(
      session.callSid,
      (s) => {
        refused = s.payment?.status === 'open';
        if (refused) return false;
        s.payment = payment;
      },
      { basis: session },
    );
    if (!updated) throw new PaymentRefused('call-not-found');
    if (refused) throw new PaymentRefused('payment-open');
    await this.d.audit.append(session.callSid, {
      type: 'payment.created',
      paymentId: payment.id,
      fields: payment.fields.map((f) => f.kind).join(','),
      actor,
    });
    return this.announce(updated, payment);
  }

  async get(session: CallSession, paymentId: string): Promise<PaymentView> {
    return this.view(session.callSid, this.paymentOf(session, paymentId));
  }

  async update(session: CallSession, paymentId: string, update: PaymentUpdate, actor?: string): Promise<PaymentView> {
    const payment = this.paymentOf(session, paymentId);
    if (payment.status !== 'open') throw new PaymentRefused('payment-ended');
    if ('capture' in update) return this.capture(session, payment, update.capture, actor);
    return update.status === 'complete' ? this.complete(session, payment, actor) : this.cancel(session, payment, actor);
  }

  /**
   * asks the caller for one field (again, if it was gathered before): a capture on the bridge.
   * The field is reserved on the call first, so a complete or cancel under way either sees it
   * (and refuses, or ends it) or ended the session before it starts (and it is not started).
   */
  private async capture(session: CallSession, payment: PaymentSession, name: string, actor: string | undefined): Promise<PaymentView> {
    const field = payment.fields.find((f) => f.name === name);
    if (!field) throw new PaymentRefused('unknown-field');
    await this.mark(session.callSid, payment.id, name, (f) => {
      if (f.starting) throw new PaymentRefused('capture-running');
      f.starting = true;
    });
    const started = await this.d.captures
      .start(session, { name: field.name, kind: field.kind, ...(payment.blanket ? { blanket: true } : {}) }, actor)
      .catch(async (e: unknown) => {
        // the start's own failure is what the agent is told; if the store fails again here the
        // field stays reserved, which holds off a complete but never a cancel
        await this.mark(session.callSid, payment.id, name, (f) => delete f.starting).catch((err: unknown) =>
          this.d.log.warn(
            { callSid: session.callSid, paymentId: payment.id, field: name, err: errFields(err) },
            'payment field left reserved after a failed capture start',
          ),
        );
        throw e;
      });
    if (!started.ok) {
      await this.mark(session.callSid, payment.id, name, (f) => delete f.starting);
      throw new PaymentRefused(started.error);
    }
    try {
      const updated = await this.mark(session.callSid, payment.id, name, (f) => {
        delete f.starting;
        f.captureId = started.captureId;
      });
      return this.announce(updated, updated.payment ?? payment);
    } catch (e) {
      // the session ended while the capture started: it must not gather for an ended session
      await this.d.captures.cancel(session, started.captureId, actor);
      throw e;
    }
  }

  /** changes one field of the open session `paymentId` on the call; refused once the session ended */
  private async mark(callSid: string, paymentId: string, name: string, change: (f: PaymentSession['fields'][number]) => void): Promise<CallSession> {
    let refusal: PaymentRefusal | undefined;
    const updated = await this.d.calls.update(callSid, (s) => {
      refusal = undefined;
      const f = s.payment?.id === paymentId ? s.payment.fields.find((x) => x.name === name) : undefined;
      if (!f || s.payment?.status !== 'open') {
        refusal = 'payment-ended';
        return false;
      }
      change(f);
    });
    if (!updated) throw new PaymentRefused('call-not-found');
    if (refusal) throw new PaymentRefused(refusal);
    return updated;
  }

  private async complete(session: CallSession, payment: PaymentSession, actor: string | undefined): Promise<PaymentView> {
    const view = await this.view(session.callSid, payment);
    if (view.required.length > 0) throw new PaymentRefused('payment-incomplete', view.required);
    const updated = await this.end(session, payment, 'completed');
    await this.d.audit.append(session.callSid, { type: 'payment.completed', paymentId: payment.id, actor });
    this.d.onCompleted(updated);
    return this.announce(updated, updated.payment ?? payment);
  }

  /** ends the running capture and erases every value the session gathered */
  private async cancel(session: CallSession, payment: PaymentSession, actor: string | undefined): Promise<PaymentView> {
    // end the session first: a capture being started now sees it ended and cancels itself
    const ended = await this.end(session, payment, 'cancelled');
    const running = await this.records(session.callSid, ended.payment ?? payment);
    // a cancel waits for a capture that was ending anyway, so its value is written by now
    for (const r of running.values()) if (r.status === 'capturing') await this.d.captures.cancel(session, r.captureId, actor);
    // every value a capture wrote into one of the session's fields since it opened, whatever
    // became of the field's latest capture (a failed re-ask keeps the earlier valid value)
    const names = new Set(payment.fields.map((f) => f.name));
    const erased: string[] = [];
    const updated = await this.d.calls.update(session.callSid, (s) => {
      erased.length = 0;
      let changed = false;
      for (const name of names) {
        const f = s.fields[name];
        if (!f || f.source !== 'capture' || f.at < payment.createdAt) continue;
        if (f.token) erased.push(f.token);
        delete s.fields[name];
        changed = true;
      }
      if (!changed) return false;
    });
    for (const token of erased) await this.d.vault.erase(token);
    await this.d.audit.append(session.callSid, { type: 'payment.cancelled', paymentId: payment.id, erased: erased.length, actor });
    return this.announce(updated ?? ended, (updated ?? ended).payment ?? payment);
  }

  private async end(session: CallSession, payment: PaymentSession, status: 'completed' | 'cancelled'): Promise<CallSession> {
    let refusal: PaymentRefusal | undefined;
    const updated = await this.d.calls.update(session.callSid, (s) => {
      refusal = undefined;
      if (s.payment?.id !== payment.id || s.payment.status !== 'open') refusal = 'payment-ended';
      // a complete waits for a field being asked for; a cancel ends it (cancel, above)
      else if (status === 'completed' && s.payment.fields.some((f) => f.starting)) refusal = 'capture-running';
      if (refusal || !s.payment) return false;
      s.payment.status = status;
      s.payment.endedAt = this.now();
    });
    if (!updated) throw new PaymentRefused('call-not-found');
    if (refusal) throw new PaymentRefused(refusal);
    return updated;
  }

  private paymentOf(session: CallSession, paymentId: string): PaymentSession {
    if (!session.payment || session.payment.id !== paymentId) throw new PaymentRefused('payment-not-found');
    return session.payment;
  }

  private async records(callSid: string, payment: PaymentSession): Promise<Map<string, CaptureRecord>> {
    const found = await Promise.all(payment.fields.map(async (f) => [f.name, f.captureId ? await this.d.captures.get(callSid, f.captureId) : null] as const));
    return new Map(found.filter((e): e is readonly [string, CaptureRecord] => e[1] !== null));
  }

  private async view(callSid: string, payment: PaymentSession): Promise<PaymentView> {
    const records = await this.records(callSid, payment);
    const fields = payment.fields.map((f) => fieldView(f, records.get(f.name)));
    return {
      paymentId: payment.id,
      callSid,
      status: payment.status,
      capturing: fields.find((f) => f.status === 'capturing')?.name ?? null,
      required: fields.filter((f) => f.status !== 'valid').map((f) => f.name),
      fields,
      createdAt: new Date(payment.createdAt).toISOString(),
      ...(payment.endedAt ? { endedAt: new Date(payment.endedAt).toISOString() } : {}),
    };
  }

  private async announce(session: CallSession, payment: PaymentSession): Promise<PaymentView> {
    const view = await this.view(session.callSid, payment);
    await this.d.publish(view);
    return view;
  }
}

/** a field's status from its latest capture: masked views only, as the capture record holds */
function fieldView(f: PaymentSession['fields'][number], r: CaptureRecord | undefined): PaymentFieldView {
  const base = { name: f.name, kind: f.kind, ...(f.captureId ? { captureId: f.captureId } : {}) };
  if (!r || r.status === 'cancelled') return { ...base, status: 'pending' };
  if (r.status === 'capturing') return { ...base, status: 'capturing', masked: r.masked };
  if (r.status === 'completed' && r.valid) {
    return { ...base, status: 'valid', masked: r.masked, ...(r.last4 ? { last4: r.last4 } : {}), ...(r.brand ? { brand: r.brand } : {}) };
  }
  return { ...base, status: 'invalid', masked: r.masked, ...(r.reason ? { reason: r.reason } : {}) };
}
