/**
 * bus/: every message between instances, typed by one set of schemas (messages.ts) and signed
 * (store/signed-messages.ts): call events and ended sessions to all instances, commands to one, and requests one
 * instance asks another and waits on. The base layer: it imports only store/, config, log,
 * errors and zod.
 */
export { EventBus, type CallEventHandler } from './events';
export { CommandBus, type CommandHandler, type CommandOf } from './commands';
export { SessionBus, type SessionEventHandler } from './sessions';
export { InstanceRpc, isUnanswered, REQUEST_TIMEOUT_MS, type RequestHandler } from './rpc';
export { type BusDeps, type BusName, type DropReason, type OnDropped } from './receive';
export {
  agentEvent,
  callEvent,
  cancelResult,
  captureRequest,
  instanceCommand,
  instanceRequests,
  maskedField,
  processorSummary,
  sessionEvent,
  startResult,
  WIRE_CARD_BRANDS,
  WIRE_FIELD_KINDS,
  type AgentEvent,
  type CallEvent,
  type CallEventType,
  type InstanceCommand,
  type MaskedFieldView,
  type ProcessorSummaryView,
  type ReplyOf,
  type RequestOf,
  type RequestOp,
  type SessionEvent,
} from './messages';
