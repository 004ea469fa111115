/**
 * media/: Twilio Media Streams (messages, streams), bridges and the commands that reach them. The
 * WebSocket endpoint Twilio connects to is at the edge, twilio/media-routes.ts.
 */
export { Bridge, type BridgeKey, type BridgeState } from './bridge';
export { CommandBus, type CommandHandler, type InstanceCommand } from './commands';
export { FRAME_BYTES, FRAME_MS, MAX_MESSAGE_BYTES, parseTwilioMessage, type TwilioMessage } from './messages';
export { BridgeRegistry, type RegistryDeps } from './registry';
export { StreamTokens, type StreamGrant } from './tokens';
