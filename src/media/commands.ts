/**
 * Commands for the instance that holds a call's bridge. Webhooks and agent requests land on any
 * instance; the bridge lives where the caller's stream landed (session.instanceId). A command is
 * published on that instance's store channel and handled there by the handler registered for
 * its type (media registers `dial-agent`; captures register theirs).
 */
import { z } from 'zod';
import { errFields, type Logger } from '../log';
import type { Keys, Store } from '../store';

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
  ) {}

  /** one handler per command type on this instance */
  register(type: string, handler: CommandHandler): void {
    if (this.handlers.has(type)) throw new Error(`command handler already registered: ${type}`);
    this.handlers.set(type, handler);
  }

  /** publishes a command to the instance that must run it (this one included) */
  async send(instanceId: string, command: InstanceCommand): Promise<void> {
    await this.store.publish(this.keys.instanceChannel(instanceId), JSON.stringify(command));
  }

  async start(): Promise<void> {
    if (this.unsubscribe) return;
    this.unsubscribe = await this.store.subscribe(this.keys.instanceChannel(this.instanceId), (raw) => this.dispatch(raw));
  }

  async stop(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    if (unsubscribe) await unsubscribe();
  }

  private dispatch(raw: string): void {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      this.log.warn('instance command is not JSON: dropped');
      return;
    }
    const parsed = instanceCommand.safeParse(json);
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
