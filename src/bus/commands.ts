/**
 * Commands for the instance that holds a call's bridge. Webhooks and agent requests land on any
 * instance; the bridge lives where the caller's stream landed (session.instanceId). A command is
 * published on that instance's store channel and handled there by the handler registered for
 * its type (media registers `dial-agent`). The commands are the union in bus/messages.ts:
 * typed on send, parsed on receipt.
 *
 * Commands are signed (store/signed-messages.ts) and an unsigned, forged, moved or replayed one
 * is refused: a `dial-agent` published by anyone who can reach Redis must not put a caller
 * through to an endpoint of their choosing.
 */
import { errFields } from '../log';
import { instanceCommand, type InstanceCommand, type InstanceCommandType } from './messages';
import { checked, receive, reportDrop, type BusDeps } from './receive';
import { BusErrors } from '../errors';

export type { InstanceCommand } from './messages';
export type CommandOf<T extends InstanceCommandType> = Extract<InstanceCommand, { type: T }>;
export type CommandHandler<T extends InstanceCommandType = InstanceCommandType> = (command: CommandOf<T>) => void | Promise<void>;

export class CommandBus {
  private readonly handlers = new Map<InstanceCommandType, CommandHandler>();
  private unsubscribe: (() => Promise<void>) | null = null;

  constructor(
    private readonly d: BusDeps,
    private readonly instanceId: string,
  ) {}

  /** one handler per command type on this instance */
  register<T extends InstanceCommandType>(type: T, handler: CommandHandler<T>): void {
    if (this.handlers.has(type)) throw BusErrors.handlerDuplicate(`command ${type}`);
    this.handlers.set(type, handler as unknown as CommandHandler);
  }

  /** publishes a command to the instance that must run it (this one included) */
  async send(instanceId: string, command: InstanceCommand): Promise<void> {
    const channel = this.d.keys.instanceChannel(instanceId);
    await this.d.store.publish(channel, this.d.signer.sign(channel, checked(instanceCommand, command)));
  }

  async start(): Promise<void> {
    if (this.unsubscribe) return;
    const channel = this.d.keys.instanceChannel(this.instanceId);
    this.unsubscribe = await this.d.store.subscribe(channel, (raw) => this.dispatch(channel, raw));
  }

  async stop(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    if (unsubscribe) await unsubscribe();
  }

  private dispatch(channel: string, raw: string): void {
    const r = receive(this.d.signer, channel, raw, instanceCommand);
    if (!r.ok) {
      reportDrop(this.d, 'commands', r.reason);
      return;
    }
    const command = r.message;
    const handler = this.handlers.get(command.type);
    if (!handler) {
      reportDrop(this.d, 'commands', 'unhandled');
      return;
    }
    Promise.resolve()
      .then(() => handler(command))
      .catch((err: unknown) => this.d.log.error({ command: command.type, callSid: command.callSid, err: errFields(err) }, 'instance command failed'));
  }
}
