/** media/: Twilio Media Streams (routes, messages) and the bridges between them. */
export { Bridge, type BridgeKey, type BridgeState } from './bridge';
export { FRAME_BYTES, FRAME_MS, MAX_MESSAGE_BYTES, parseTwilioMessage, type TwilioMessage } from './messages';
export { BridgeRegistry, type RegistryDeps } from './registry';
export { mediaRoutes, type MediaRouteDeps } from './routes';
export { StreamTokens, type StreamGrant } from './tokens';
