import { coded } from './base';

export const AgentErrors = {
  /** 503 with the contract's body, `{error:"recording-pause-failed"}`, not the catalogue's code (CONTRACT §5) */
  capturePauseFailed: coded('TW_ERR_AGENT_CAPTURE_PAUSE_FAILED', 'the recording could not be paused', 503, 'recording-pause-failed'),
  /** an agent socket's first message was not `{type:"auth", token}` */
  authMessageMissing: coded('TW_ERR_AGENT_AUTH_MESSAGE_MISSING', 'no auth message', 401),
  /** an accept by a token with no `endpoint` (a supervisor's or admin's may carry none): there is nothing to dial */
  noEndpoint: coded('TW_ERR_AGENT_NO_ENDPOINT', 'the token names no endpoint to dial', 422),
  /** an agent socket's message past its requests in flight (agents/socket-limits.ts MAX_REQUESTS_IN_FLIGHT): not run */
  socketBusy: coded('TW_ERR_AGENT_SOCKET_BUSY', 'too many requests in progress', 429),
} as const;
