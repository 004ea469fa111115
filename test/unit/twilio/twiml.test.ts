/**
 * Verbs → TwiML, on their own: the documents Twilio receives, attribute by attribute.
 */
import { parseFlow } from '../../../src/flows/load';
import type { Verb } from '../../../src/flows/verbs';
import { pino } from 'pino';
import { captureAgain, refusedCaptureTwiml } from '../../../src/twilio/capture-route';
import type { CallRepository } from '../../../src/calls/repository';
import {
  AGENT_REJOIN_CHECK_SECONDS,
  AGENT_REJOIN_CHECKS,
  AGENT_REJOIN_WAIT_SECONDS,
  agentWaitTwiml,
  APOLOGY,
  bridgeTwiml,
  emptyTwiml,
  notInServiceTwiml,
  renderVerbs,
  safeTwiml,
} from '../../../src/twilio/twiml';

const PUBLIC = 'https://ivr.example.com';
const HEAD = '<?xml version="1.0" encoding="UTF-8"?>';
const flowWith = (extra: string, handoff = 'mode: dial\n  to: "sip:agent@example.com"') =>
  parseFlow('f.yaml', `id: f\nnumbers: ["+15005550006"]\n${extra}steps: []\nhandoff:\n  ${handoff}\n`);

describe('renderVerbs', () => {
  test("say, start-recording and gather: the flow's voice on every Say, a dual-channel recording with its callbacks, a DTMF gather posting to its own step and attempt", () => {
    const flow = flowWith('language: en-GB\nvoice: Polly.Amy\n');
    const verbs: Verb[] = [
      { verb: 'say', text: 'a < b & "c"' },
      { verb: 'start-recording' },
      { verb: 'gather', field: 'card', step: 1, attempt: 2, prompts: [{ say: 'card please' }], numDigits: 16, timeoutSeconds: 7, sensitive: true },
    ];
    expect(renderVerbs(verbs, { publicUrl: PUBLIC, flow })).toBe(
      HEAD +
        '<Response><Say language="en-GB" voice="Polly.Amy">a &lt; b &amp; "c"</Say>' +
        `<Start><Recording channels="dual" recordingStatusCallback="${PUBLIC}/twilio/recording-status" recordingStatusCallbackEvent="in-progress completed absent"/></Start>` +
        `<Gather input="dtmf" finishOnKey="#" numDigits="16" timeout="7" actionOnEmptyResult="true" method="POST" action="${PUBLIC}/twilio/gather/1/2">` +
        '<Say language="en-GB" voice="Polly.Amy">card please</Say></Gather></Response>',
    );
  });

  test('a gather asked again after a stray key posts to its own action, a confirm one too', () => {
    const again: Verb = { verb: 'gather', field: 'pin', step: 2, attempt: 1, prompts: [{ say: 'pin' }], timeoutSeconds: 5, sensitive: true, again: true };
    expect(renderVerbs([again], { publicUrl: PUBLIC })).toContain(`action="${PUBLIC}/twilio/gather/2/1/again"`);
    expect(renderVerbs([{ ...again, confirm: true }], { publicUrl: PUBLIC })).toContain(`action="${PUBLIC}/twilio/gather/2/1/confirm/again"`);
  });

  test('a gather without a fixed length has no numDigits (# ends it)', () => {
    const xml = renderVerbs([{ verb: 'gather', field: 'ref', step: 0, attempt: 1, prompts: [{ say: 'ref' }], timeoutSeconds: 5, sensitive: false }], {
      publicUrl: PUBLIC,
    });
    expect(xml).toContain('<Gather input="dtmf" finishOnKey="#" timeout="5"');
    expect(xml).not.toContain('numDigits');
  });

  test("a guard: a Gather that says nothing, takes no '#', ends on silence as long as the field's, and always posts to its own step", () => {
    const xml = renderVerbs([{ verb: 'guard', step: 3, timeoutSeconds: 7 }], { publicUrl: PUBLIC });
    expect(xml).toBe(
      HEAD +
        `<Response><Gather input="dtmf" finishOnKey="" timeout="7" actionOnEmptyResult="true" method="POST" action="${PUBLIC}/twilio/guard/3"/></Response>`,
    );
    // a drop-in capture's carries its query, as its gathers do
    expect(renderVerbs([{ verb: 'guard', step: 3, timeoutSeconds: 7 }], { publicUrl: PUBLIC, actionQuery: 'dropin=x' })).toContain(
      `action="${PUBLIC}/twilio/guard/3?dropin=x"`,
    );
  });

  test("bridge handoff: <Connect><Stream> to the single-use URL, marked as the caller leg, its action the stream's bridge-lost", () => {
    const verbs: Verb[] = [{ verb: 'handoff', handoff: { mode: 'bridge' } }];
    expect(renderVerbs(verbs, { publicUrl: PUBLIC, streamUrl: 'wss://ivr.example.com/media/one', streamNumber: 1 })).toBe(
      HEAD +
        `<Response><Connect><Stream url="wss://ivr.example.com/media/one"><Parameter name="leg" value="caller"/></Stream></Connect><Redirect method="POST">${PUBLIC}/twilio/bridge-lost/1</Redirect></Response>`,
    );
    // no stream number (the embedded store's one instance, no other to take a lost bridge up): no action
    expect(renderVerbs(verbs, { publicUrl: PUBLIC, streamUrl: 'wss://ivr.example.com/media/one' })).toBe(
      HEAD + '<Response><Connect><Stream url="wss://ivr.example.com/media/one"><Parameter name="leg" value="caller"/></Stream></Connect></Response>',
    );
    expect(renderVerbs(verbs, { publicUrl: PUBLIC, streamUrl: 'wss://ivr.example.com/media/one', streamNumber: 3 })).toContain(
      `<Redirect method="POST">${PUBLIC}/twilio/bridge-lost/3</Redirect>`,
    );
    // never served from the cache: the next call gets its own URL
    expect(renderVerbs(verbs, { publicUrl: PUBLIC, streamUrl: 'wss://ivr.example.com/media/two' })).toContain('url="wss://ivr.example.com/media/two"');
  });

  test("the agent leg: recorded when asked, its <Connect> action the caller's bridge-lost for the agent", () => {
    const recorded = bridgeTwiml.agentLeg(
      'wss://i1.example.com/media/a',
      { publicUrl: PUBLIC, n: 2, callerSid: 'CA' + '1'.repeat(32) },
      `${PUBLIC}/twilio/recording-status`,
    );
    expect(recorded).toContain('<Start><Recording');
    expect(recorded).toContain(`</Connect><Redirect method="POST">${PUBLIC}/twilio/bridge-lost/2?leg=agent&amp;call=CA${'1'.repeat(32)}</Redirect>`);
    // called back into a bridge: no second recording (the call's first goes on)
    expect(bridgeTwiml.agentLeg('wss://i2.example.com/media/b', { publicUrl: PUBLIC, n: 3, callerSid: 'CA' + '1'.repeat(32) })).not.toContain('Recording');
    expect(bridgeTwiml.agentLeg('wss://i2.example.com/media/b', undefined)).not.toContain('Redirect');
  });

  test('an agent waiting to be called back in hears a notice, then silence asked again every few seconds, then the call ends; nothing of the caller', () => {
    const caller = 'CA' + '1'.repeat(32);
    const again = (check: number) => `<Redirect method="POST">${PUBLIC}/twilio/bridge-lost/2?leg=agent&amp;call=${caller}&amp;hop=${check}</Redirect>`;
    expect(agentWaitTwiml(PUBLIC, 2, caller, 0)).toBe(
      HEAD + `<Response><Say>Reconnecting your caller.</Say><Pause length="${AGENT_REJOIN_CHECK_SECONDS}"/>${again(1)}</Response>`,
    );
    // asked again: no second notice
    expect(agentWaitTwiml(PUBLIC, 2, caller, 1)).toBe(HEAD + `<Response><Pause length="${AGENT_REJOIN_CHECK_SECONDS}"/>${again(2)}</Response>`);
    // every wait together is the whole of it: then the call ends
    expect(AGENT_REJOIN_CHECKS * AGENT_REJOIN_CHECK_SECONDS).toBe(AGENT_REJOIN_WAIT_SECONDS);
    expect(agentWaitTwiml(PUBLIC, 2, caller, AGENT_REJOIN_CHECKS - 1)).toContain(again(AGENT_REJOIN_CHECKS));
    expect(agentWaitTwiml(PUBLIC, 2, caller, AGENT_REJOIN_CHECKS)).toBe(HEAD + '<Response><Hangup/></Response>');
  });

  test('a bridge handoff without a stream URL is refused, not rendered without one', () => {
    expect(() => renderVerbs([{ verb: 'handoff', handoff: { mode: 'bridge' } }], { publicUrl: PUBLIC })).toThrow('bridge handoff without a stream URL');
  });

  const ANSWERED = `statusCallbackEvent="answered" statusCallback="${PUBLIC}/twilio/dial-answered" statusCallbackMethod="POST"`;
  test.each([
    ['client:alice', `<Client ${ANSWERED}>alice</Client>`],
    ['sip:agent@example.com', `<Sip ${ANSWERED}>sip:agent@example.com</Sip>`],
    ['+15005550001', `<Number ${ANSWERED}>+15005550001</Number>`],
  ])("dial handoff to %s: a <Dial> reporting to /twilio/dial-status, its party's answer to /twilio/dial-answered", (to, noun) => {
    expect(renderVerbs([{ verb: 'handoff', handoff: { mode: 'dial', to } }, { verb: 'hangup' }], { publicUrl: PUBLIC })).toBe(
      HEAD + `<Response><Dial action="${PUBLIC}/twilio/dial-status" method="POST">${noun}</Dial><Hangup/></Response>`,
    );
  });

  test('a queue enqueues; no target at all waits in the hold loop for an accept (dial-offer.ts), never in a queue nothing dequeues', () => {
    expect(renderVerbs([{ verb: 'handoff', handoff: { mode: 'dial', to: 'queue:billing' } }], { publicUrl: PUBLIC })).toBe(
      HEAD + '<Response><Enqueue>billing</Enqueue></Response>',
    );
    expect(renderVerbs([{ verb: 'handoff', handoff: { mode: 'dial' } }], { publicUrl: PUBLIC })).toBe(
      HEAD + `<Response><Pause length="5"/><Redirect method="POST">${PUBLIC}/twilio/dial-hold/1</Redirect></Response>`,
    );
  });

  test('the same verbs under another public URL or voice are rendered afresh, not taken from the cache', () => {
    const verbs: Verb[] = [{ verb: 'gather', field: 'card', step: 0, attempt: 1, prompts: [{ say: 'p' }], timeoutSeconds: 5, sensitive: true }];
    expect(renderVerbs(verbs, { publicUrl: 'https://a.example.com' })).toContain('action="https://a.example.com/twilio/gather/0/1"');
    expect(renderVerbs(verbs, { publicUrl: 'https://b.example.com' })).toContain('action="https://b.example.com/twilio/gather/0/1"');
    expect(renderVerbs(verbs, { publicUrl: 'https://b.example.com', flow: flowWith('voice: Polly.Brian\n') })).toContain('voice="Polly.Brian"');
  });
});

describe('safe TwiML: what the caller hears when a step cannot be served', () => {
  test('with a fixed dial target: the apology, then that target, whose end is asked of the fallback dial-status', () => {
    expect(safeTwiml(PUBLIC, flowWith('language: en-GB\n'))).toBe(
      HEAD +
        `<Response><Say language="en-GB">${APOLOGY} Connecting you to an agent.</Say>` +
        `<Dial action="${PUBLIC}/twilio/dial-status?fallback=1" method="POST"><Sip>sip:agent@example.com</Sip></Dial></Response>`,
    );
    expect(safeTwiml(PUBLIC, flowWith('', 'mode: dial\n  to: "client:bob"'))).toContain('method="POST"><Client>bob</Client></Dial>');
  });

  test.each([
    ['no flow', undefined],
    ['a queue', flowWith('', 'mode: dial\n  to: "queue:agents"')],
    ['a bridge', flowWith('', 'mode: bridge')],
  ])('with %s: the apology and a clean hangup, never dead air', (_name, flow) => {
    const xml = safeTwiml(PUBLIC, flow);
    expect(xml).toContain(`${APOLOGY} Please call again later. Goodbye.</Say><Hangup/></Response>`);
    expect(xml).not.toContain('<Dial');
    expect(xml).not.toContain('<Enqueue');
  });

  test('not in service (no flow, so English in the default voice), and the empty answer', () => {
    expect(notInServiceTwiml()).toBe(HEAD + '<Response><Say>The number you have called is not in service. Goodbye.</Say><Hangup/></Response>');
    expect(emptyTwiml()).toBe(HEAD + '<Response/>');
  });
});

describe("the service's own words outside a flow's steps: in the flow's language and voice", () => {
  const spanish = flowWith('language: es-MX\nvoice: Polly.Mia\n', 'mode: bridge');
  const SAY_ES = '<Say language="es-MX" voice="Polly.Mia">';

  test('a hold that runs out (media/registry.ts): the no-agent apology, then a hangup', () => {
    expect(bridgeTwiml.sayAndHangUp('no-agent', spanish)).toBe(
      HEAD +
        `<Response>${SAY_ES}Lo sentimos, en este momento no hay ningún agente disponible para atender su llamada. Por favor, llame más tarde. Adiós.</Say><Hangup/></Response>`,
    );
    expect(bridgeTwiml.sayAndHangUp('no-agent')).toBe(
      HEAD + "<Response><Say>We're sorry, no agent is available to take your call right now. Please call again later. Goodbye.</Say><Hangup/></Response>",
    );
  });

  const REFUSED_ES = `<Response>${SAY_ES}Lo sentimos, no podemos completar su solicitud en este momento. Adiós.</Say><Hangup/></Response>`;

  test('a refused drop-in capture: in the language of the flow asked for; English for an unknown flow', () => {
    expect(refusedCaptureTwiml(spanish)).toBe(HEAD + REFUSED_ES);
    expect(refusedCaptureTwiml()).toBe(HEAD + `<Response><Say>${APOLOGY} Goodbye.</Say><Hangup/></Response>`);
  });

  test('a second capture on a call whose capture returned: refused in the flow asked for', async () => {
    const calls = { get: async () => ({ dropin: { result: 'success' } }) } as unknown as CallRepository;
    const audit = { append: async () => undefined };
    const answer = await captureAgain(calls, audit, pino({ level: 'silent' }), spanish)({}, { callSid: 'CA' + '0'.repeat(32), parts: ['capture', 'f'] });
    expect(answer).toEqual({ status: 200, contentType: 'text/xml', body: HEAD + REFUSED_ES });
  });
});
