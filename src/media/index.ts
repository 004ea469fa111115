/** media/: Twilio Media Streams (routes, messages), bridges and the commands that reach them. */
export { Bridge, type BridgeKey, type BridgeState } from './bridge';
export { CommandBus, type CommandHandler, type InstanceCommand } from './commands';
export { FRAME_BYTES, FRAME_MS, MAX_MESSAGE_BYTES, parseTwilioMessage, type TwilioMessage } from './messages';
export { BridgeRegistry, type RegistryDeps } from './registry';
export { mediaRoutes, type MediaRouteDeps } from './routes';
export { StreamTokens, type StreamGrant } from './tokens';
