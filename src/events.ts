/**
 * Call events crossing instances through the store's pub/sub: what agents are shown
 * (handoff.offered, call.bridged, capture.*, processor.result, call.ended) and what instances
 * tell each other (a capture command for the instance holding a bridge). Events carry masked
 * views and SIDs only, never a value or a full caller number.
 */
import type { Keys, Store } from './store';

export interface CallEvent {
  type: string;
  callSid: string;
  [k: string]: unknown;
}

export type CallEventHandler = (event: CallEvent) => void;

export class EventBus {
  private readonly channel: string;
  constructor(
    private readonly store: Store,
    keys: Keys,
  ) {
    this.channel = keys.channel('events');
  }

  async publish(event: CallEvent): Promise<void> {
    await this.store.publish(this.channel, JSON.stringify(event));
  }

  async subscribe(handler: CallEventHandler): Promise<() => Promise<void>> {
    return this.store.subscribe(this.channel, (raw) => {
      let e: unknown;
      try {
        e = JSON.parse(raw);
      } catch {
        return;
      }
      if (e && typeof e === 'object' && typeof (e as CallEvent).type === 'string' && typeof (e as CallEvent).callSid === 'string') {
        handler(e as CallEvent);
      }
    });
  }
}
