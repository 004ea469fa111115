/**
 * OpenAPI descriptions of the agent API (served at /docs). Routes attach them with
 * `attachValidation: true`: the handlers parse with zod themselves, after authentication and
 * the per-call rule, so a foreign call is 404 whatever its body (CONTRACT §5).
 */
import { CALL_SID } from '../sids';
import { FIELD_KINDS } from '../fields';

const error = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

const field = {
  type: 'object',
  properties: {
    kind: { type: 'string' },
    masked: { type: 'string', description: "one '*' per hidden digit; a card keeps its last 4" },
    last4: { type: 'string' },
    brand: { type: 'string' },
    valid: { type: 'boolean' },
    reason: { type: 'string' },
  },
} as const;

export const callSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    callSid: { type: 'string' },
    from: {
      type: 'string',
      description:
        "the caller masked: a number to its last 4 digits (+*******4567); a SIP caller to its host (sip:****@example.com); a Twilio Client caller to 'client:****'; 'withheld' when the caller withheld their number",
    },
    state: { type: 'string', enum: ['ivr', 'handoff', 'offered', 'bridging', 'bridged', 'dialed', 'ended'] },
    recording: { type: 'object', additionalProperties: true, description: "the caller's call recording" },
    recordings: {
      type: 'array',
      description: "every recording of the call: the caller's (stopped at a bridge handoff) and, in bridge mode, the agent's (what the agent heard, masked)",
      items: {
        type: 'object',
        properties: { leg: { type: 'string', enum: ['caller', 'agent'] }, sid: { type: 'string' }, status: { type: 'string' } },
      },
    },
    fields: { type: 'object', additionalProperties: field },
    capture: { type: ['object', 'null'], additionalProperties: true },
    processorResults: {
      type: 'array',
      description: "each processor's latest delivery outcome, as its processor.result event said it (absent until one came)",
      items: {
        type: 'object',
        properties: {
          processor: { type: 'string' },
          ok: { type: 'boolean', description: 'the processor took the delivery (a 2xx answer)' },
          status: { type: 'integer', description: 'the HTTP status of the last try, if it was answered' },
          attempts: { type: 'integer' },
          result: {
            type: 'object',
            description: "the allow-listed summary of the processor's answer, never the answer itself",
            properties: {
              approved: { type: 'boolean' },
              status: { type: 'string' },
              code: { type: 'string' },
              reference: { type: 'string' },
              token: { type: 'string' },
              last4: { type: 'string' },
              brand: { type: 'string' },
            },
          },
          at: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
} as const;

const captureSchema = {
  type: 'object',
  properties: {
    captureId: { type: 'string' },
    callSid: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string' },
    status: { type: 'string', enum: ['capturing', 'completed', 'failed', 'cancelled'] },
    entered: { type: 'integer' },
    masked: { type: 'string' },
    valid: { type: 'boolean' },
    brand: { type: 'string' },
    last4: { type: 'string' },
    reason: { type: 'string' },
  },
} as const;

const paymentField = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    kind: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'capturing', 'valid', 'invalid'] },
    masked: { type: 'string' },
    last4: { type: 'string' },
    brand: { type: 'string' },
    reason: { type: 'string' },
    captureId: { type: 'string' },
  },
} as const;

const paymentSchema = {
  type: 'object',
  properties: {
    paymentId: { type: 'string' },
    callSid: { type: 'string' },
    status: { type: 'string', enum: ['open', 'completed', 'cancelled'] },
    capturing: { type: ['string', 'null'], description: 'the field being keyed now' },
    required: { type: 'array', items: { type: 'string' }, description: "fields still to gather (Twilio's Required)" },
    fields: { type: 'array', items: paymentField },
    createdAt: { type: 'string' },
    endedAt: { type: 'string' },
  },
} as const;

const paymentParams = {
  type: 'object',
  required: ['callSid', 'paymentId'],
  properties: { callSid: { type: 'string' }, paymentId: { type: 'string' } },
} as const;

const callParams = {
  type: 'object',
  required: ['callSid'],
  properties: { callSid: { type: 'string', pattern: CALL_SID.source } },
} as const;

const captureParams = {
  type: 'object',
  required: ['callSid', 'captureId'],
  properties: { callSid: { type: 'string' }, captureId: { type: 'string' } },
} as const;

const common = { tags: ['agents'], security: [{ bearer: [] }] };
const denied = { 401: { description: 'missing or invalid token', ...error }, 404: { description: 'no such call, or not visible to this token', ...error } };

export const schemas = {
  signOut: {
    ...common,
    summary:
      "End the token's session before its exp: from now on every instance refuses it (401 here, close 4401 on the WebSocket) and closes the sockets it opened; another token of the same user is not affected",
    response: { 204: { description: 'signed out', type: 'null' }, 401: denied[401] },
  },
  listCalls: {
    ...common,
    summary: 'Calls visible to the token, masked',
    response: { 200: { type: 'object', properties: { calls: { type: 'array', items: callSchema } } }, 401: denied[401] },
  },
  getCall: { ...common, summary: 'One call, masked', params: callParams, response: { 200: callSchema, ...denied } },
  accept: {
    ...common,
    summary:
      'Take an offered call: the service dials the token endpoint and bridges it (bridge mode), or moves the caller to a plain <Dial> of it (dial mode); the first accept wins',
    params: callParams,
    response: {
      200: callSchema,
      ...denied,
      409: { description: 'not offered, or already accepted', ...error },
      422: { description: 'the token names no endpoint to dial (a supervisor or admin token may carry none)', ...error },
    },
  },
  startCapture: {
    ...common,
    summary: 'Start a secure capture on a bridged call (the recording is paused first)',
    params: callParams,
    body: {
      type: 'object',
      required: ['name', 'kind'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]{0,63}$' },
        kind: { type: 'string', enum: [...FIELD_KINDS] },
        blanket: { type: 'boolean', description: 'one continuous flat tone to the agent for the whole capture' },
        minLength: { type: 'integer', description: 'digits and postal-code kinds only' },
        maxLength: { type: 'integer', description: 'digits and postal-code kinds only' },
      },
    },
    response: {
      201: { type: 'object', properties: { captureId: { type: 'string' } } },
      400: error,
      ...denied,
      409: { description: 'a capture is running, or the call is not bridged', ...error },
      503: { description: '{"error":"recording-pause-failed"}: the recording could not be paused; no capture was started', ...error },
    },
  },
  getCapture: { ...common, summary: 'A capture, masked', params: captureParams, response: { 200: captureSchema, ...denied } },
  cancelCapture: { ...common, summary: 'Cancel a capture; the recording resumes', params: captureParams, response: { 200: captureSchema, ...denied } },
  startPayment: {
    ...common,
    summary: "Open an agent-assisted payment session on a bridged call (Twilio's Payments create): the fields to gather, one at a time",
    params: callParams,
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        fields: {
          type: 'array',
          items: { type: 'object', required: ['name', 'kind'], properties: { name: { type: 'string' }, kind: { type: 'string' } } },
          description: 'default: card (card-number), expiry (expiry), cvv (security-code)',
        },
        postalCode: { type: 'boolean', description: 'also gather a postal code (postal) with the default fields' },
        blanket: { type: 'boolean', description: 'every capture of the session plays one continuous flat tone to the agent' },
      },
    },
    response: { 201: paymentSchema, 400: error, ...denied, 409: { description: 'a payment session is open, or the call is not bridged', ...error } },
  },
  getPayment: {
    ...common,
    summary: 'A payment session: each field masked, with its status',
    params: paymentParams,
    response: { 200: paymentSchema, ...denied },
  },
  updatePayment: {
    ...common,
    summary: "Twilio's Payments update: {capture: field} asks the caller for that field (again); {status: complete|cancel} ends the session",
    params: paymentParams,
    body: {
      type: 'object',
      additionalProperties: false,
      properties: { capture: { type: 'string' }, status: { type: 'string', enum: ['complete', 'cancel'] } },
    },
    response: {
      200: paymentSchema,
      400: error,
      ...denied,
      409: { description: 'a capture is running, the session ended, or (complete) fields are still to gather', ...error },
      503: { description: '{"error":"recording-pause-failed"}: the recording could not be paused', ...error },
    },
  },
};
