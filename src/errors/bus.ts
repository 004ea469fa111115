import { coded, codedWith } from './base';

/** Messages between instances: events, commands, request/reply, and the keys that sign them. */
export const BusErrors = {
  messageInvalid: coded('TW_ERR_BUS_MESSAGE_INVALID', 'a message for other instances does not fit its schema'),
  timeout: coded('TW_ERR_BUS_TIMEOUT', 'the instance asked did not answer in time', 504),
  remoteFailed: coded('TW_ERR_BUS_REMOTE_FAILED', 'the instance asked failed to answer', 502),
  replyInvalid: coded('TW_ERR_BUS_REPLY_INVALID', 'the instance asked answered with a malformed reply', 502),
  closed: coded('TW_ERR_BUS_CLOSED', 'the bus closed before the instance asked answered', 503),
  /** two handlers for one command or request type: wiring done twice */
  handlerDuplicate: codedWith('TW_ERR_BUS_HANDLER_DUPLICATE', 500, (name: string) => `handler already registered: ${name}`),
  keysInvalid: coded('TW_ERR_BUS_KEYS_INVALID', 'instance message keys: at least one key of 32 bytes or more'),
} as const;
