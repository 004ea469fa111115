/**
 * Sessions ended, told to every instance through the store's pub/sub: a token signed out
 * (`session.revoked`) closes the agent sockets it opened wherever they are. Signed like every
 * message between instances (store/signed-messages.ts): one forged on Redis would close an agent's
 * sockets at will. What fails its signature or schema is dropped and counted (bus `sessions`).
 */
import { sessionEvent, type SessionEvent } from './messages';
import { checked, receive, reportDrop, type BusDeps } from './receive';

export type { SessionEvent } from './messages';
export type SessionEventHandler = (event: SessionEvent) => void;

export class SessionBus {
  private readonly channel: string;

  constructor(private readonly d: BusDeps) {
    this.channel = d.keys.sessionsChannel();
  }

  /** to every instance, this one included */
  async publish(event: SessionEvent): Promise<void> {
    await this.d.store.publish(this.channel, this.d.signer.sign(this.channel, checked(sessionEvent, event)));
  }

  /** resolves once events reach `handler`; returns its unsubscribe function */
  subscribe(handler: SessionEventHandler): Promise<() => Promise<void>> {
    return this.d.store.subscribe(this.channel, (raw) => {
      const r = receive(this.d.signer, this.channel, raw, sessionEvent);
      if (!r.ok) reportDrop(this.d, 'sessions', r.reason);
      else handler(r.message);
    });
  }
}
