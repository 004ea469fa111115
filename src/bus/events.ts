/**
 * Call events crossing instances through the store's pub/sub: what agents are shown
 * (handoff.offered, handoff.taken, call.bridged, capture.*, processor.result, call.ended) and what instances
 * tell each other (a call ended: captures and bridges on it stop). Events carry masked views and
 * SIDs only, never a value or a full caller number; the schemas (bus/messages.ts) hold them to
 * that on publish and on receipt.
 *
 * Events are signed like every message between instances (store/signed-messages.ts): a
 * `call.ended` forged on Redis would otherwise end a capture or a bridge, and a forged
 * `capture.completed` or `processor.result` would tell an agent a payment went through. One
 * store subscription per bus verifies and parses each message once and hands it to every local
 * handler; what fails either is dropped and counted.
 */
import { callEvent, type CallEvent } from './messages';
import { checked, receive, reportDrop, type BusDeps } from './receive';

export type { CallEvent } from './messages';
export type CallEventHandler = (event: CallEvent) => void;

export class EventBus {
  private readonly channel: string;
  private readonly handlers = new Set<CallEventHandler>();
  private subscription: Promise<() => Promise<void>> | null = null;

  constructor(private readonly d: BusDeps) {
    this.channel = d.keys.eventsChannel();
  }

  /** an event that does not fit its schema (a value where a masked form belongs) is refused here, before it leaves */
  async publish(event: CallEvent): Promise<void> {
    await this.d.store.publish(this.channel, this.d.signer.sign(this.channel, checked(callEvent, event)));
  }

  /** resolves once events reach `handler`; returns its unsubscribe function */
  async subscribe(handler: CallEventHandler): Promise<() => Promise<void>> {
    this.handlers.add(handler);
    this.subscription ??= this.d.store.subscribe(this.channel, (raw) => this.dispatch(raw));
    try {
      await this.subscription;
    } catch (e) {
      this.handlers.delete(handler);
      if (this.handlers.size === 0) this.subscription = null;
      throw e;
    }
    return async () => {
      if (!this.handlers.delete(handler) || this.handlers.size > 0 || !this.subscription) return;
      const sub = this.subscription;
      this.subscription = null;
      await (
        await sub
      )();
    };
  }

  private dispatch(raw: string): void {
    const r = receive(this.d.signer, this.channel, raw, callEvent);
    if (!r.ok) {
      reportDrop(this.d, 'events', r.reason);
      return;
    }
    for (const h of [...this.handlers]) h(r.message);
  }
}
