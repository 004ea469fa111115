/**
 * Commands for the instance that holds a call's bridge. Webhooks and agent requests land on any
 * instance; the bridge lives where the caller's stream landed (session.instanceId). A command is
 * published on that instance's store channel and handled there by the handler registered for
 * its type (media registers `dial-agent`; captures register theirs).
 *
 * Commands are signed (store/signed-messages.ts) and an unsigned, forged, moved or replayed one
 * is refused: a `dial-agent` published by anyone who can reach Redis must not put a caller
 * through to an endpoint of their choosing.
 */
import { z } from 'zod';
import { errFields, type Logger } from '../log';
import type { Keys, MessageSigner, Store } from '../store';

export const instanceCommand = z.object({ type: z.string().min(1).max(64), callSid: z.string().min(1).max(64) }).passthrough();
export type InstanceCommand = z.infer<typeof instanceCommand>;
export type CommandHandler = (command: InstanceCommand) => void | Promise<void>;

export class CommandBus {
  private readonly handlers = new Map<string, CommandHandler>();
  private unsubscribe: (() => Promise<void>) | null = null;

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly instanceId: string,
    private readonly log: Logger,
    private readonly signer: MessageSigner,
  ) {}

  /** one handler per command type on this instance */
  register(type: string, handler: CommandHandler): void {
    if (this.handlers.has(type)) throw new Error(`command handler already registered: ${type}`);
    this.handlers.set(type, handler);
  }

  /** publishes a command to the instance that must run it (this one included) */
  async send(instanceId: string, command: InstanceCommand): Promise<void> {
    const channel = this.keys.instanceChannel(instanceId);
    await this.store.publish(channel, this.signer.sign(channel, command));
  }

  async start(): Promise<void> {
    if (this.unsubscribe) return;
    const channel = this.keys.instanceChannel(this.instanceId);
    this.unsubscribe = await this.store.subscribe(channel, (raw) => this.dispatch(channel, raw));
  }

  async stop(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    if (unsubscribe) await unsubscribe();
  }

  private dispatch(channel: string, raw: string): void {
    const verified = this.signer.verify(channel, raw);
    if (!verified.ok) {
      this.log.warn({ reason: verified.reason }, 'instance command refused: not signed by an instance');
      return;
    }
    const parsed = instanceCommand.safeParse(verified.payload);
    if (!parsed.success) {
      this.log.warn('instance command is malformed: dropped');
      return;
    }
    const handler = this.handlers.get(parsed.data.type);
    if (!handler) {
      this.log.warn({ command: parsed.data.type, callSid: parsed.data.callSid }, 'no handler for instance command');
      return;
    }
    Promise.resolve()
      .then(() => handler(parsed.data))
      .catch((err: unknown) =>
        this.log.error({ command: parsed.data.type, callSid: parsed.data.callSid, err: errFields(err) }, 'instance command failed'),
      );
  }
}
