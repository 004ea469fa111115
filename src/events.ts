/**
 * Call events crossing instances through the store's pub/sub: what agents are shown
 * (handoff.offered, call.bridged, capture.*, processor.result, call.ended) and what instances
 * tell each other (a call ended: captures and bridges on it stop). Events carry masked views and
 * SIDs only, never a value or a full caller number.
 *
 * Events are signed like every message between instances (store/signed-messages.ts): a
 * `call.ended` forged on Redis would otherwise end a capture or a bridge, and a forged
 * `capture.completed` or `processor.result` would tell an agent a payment went through. One
 * store subscription per bus verifies each message once and hands it to every local handler.
 */
import type { Keys, MessageSigner, Store } from './store';

export interface CallEvent {
  type: string;
  callSid: string;
  [k: string]: unknown;
}

export type CallEventHandler = (event: CallEvent) => void;

export class EventBus {
  private readonly channel: string;
  private readonly handlers = new Set<CallEventHandler>();
  private subscription: Promise<() => Promise<void>> | null = null;

  constructor(
    private readonly store: Store,
    keys: Keys,
    private readonly signer: MessageSigner,
    private readonly onRefused: (reason: string) => void = () => undefined,
  ) {
    this.channel = keys.channel('events');
  }

  async publish(event: CallEvent): Promise<void> {
    await this.store.publish(this.channel, this.signer.sign(this.channel, event));
  }

  /** resolves once events reach `handler`; returns its unsubscribe function */
  async subscribe(handler: CallEventHandler): Promise<() => Promise<void>> {
    this.handlers.add(handler);
    this.subscription ??= this.store.subscribe(this.channel, (raw) => this.dispatch(raw));
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
      await (await sub)();
    };
  }

  private dispatch(raw: string): void {
    const v = this.signer.verify(this.channel, raw);
    if (!v.ok) {
      this.onRefused(v.reason);
      return;
    }
    const e = v.payload;
    if (e && typeof e === 'object' && typeof (e as CallEvent).type === 'string' && typeof (e as CallEvent).callSid === 'string') {
      for (const h of [...this.handlers]) h(e as CallEvent);
    }
  }
}
