/**
 * media/: Twilio Media Streams (messages, streams) and the bridges between them. The WebSocket
 * endpoint Twilio connects to is at the edge, twilio/media-routes.ts; commands that reach a
 * bridge from another instance come through bus/.
 */
export { Bridge, type BridgeKey, type BridgeState } from './bridge';
export { FRAME_BYTES, FRAME_MS, MAX_MESSAGE_BYTES, parseTwilioMessage, type TwilioMessage } from './messages';
export { BridgeRegistry, type RegistryDeps } from './registry';
export { HOLD_TIMEOUT_MS } from './holds';
export { StreamTokens, type StreamGrant } from './tokens';
