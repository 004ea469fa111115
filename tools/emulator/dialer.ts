import { Call, type CallHandlers, type EmulatedCall, type StatusCallbackConfig } from './call';
import { driveCall } from './call-driver';
import type { EmulatorContext } from './context';
import type { NumberBook } from './numbers';

/** Starts calls: inbound ones placed by tests, outbound ones the service creates over REST. */

export interface PlaceCallOptions extends CallHandlers {
  from: string;
  to: string;
  /** the Voice URL to POST; defaults to the VoiceUrl configured on the `to` number */
  voiceUrl?: string;
  voiceMethod?: 'POST' | 'GET';
  /** defaults to the StatusCallback configured on the `to` number */
  statusCallback?: string;
}

export interface OutboundCallInit {
  to: string;
  from: string;
  url?: string;
  method: string;
  twiml?: string;
  statusCallback?: StatusCallbackConfig;
}

export interface CallRegistry {
  readonly calls: Map<string, Call>;
  readonly numbers: NumberBook;
  readonly outboundHandlers: ((call: EmulatedCall) => void)[];
}

export function placeInboundCall(ctx: EmulatorContext, reg: CallRegistry, opts: PlaceCallOptions): Call {
  const number = reg.numbers.byPhoneNumber(opts.to);
  const voiceUrl = opts.voiceUrl ?? number?.voiceUrl;
  if (!voiceUrl) throw new Error(`no voiceUrl given and none configured for ${opts.to}`);
  const statusUrl = opts.statusCallback ?? number?.statusCallback;
  const call = new Call(ctx, {
    from: opts.from,
    to: opts.to,
    direction: 'inbound',
    statusCallback: statusUrl ? { url: statusUrl, method: number?.statusCallbackMethod ?? 'POST', events: ['completed'] } : undefined,
    handlers: { onGather: opts.onGather, onStream: opts.onStream },
  });
  reg.calls.set(call.sid, call);
  call.setStatus('ringing');
  const method = opts.voiceMethod ?? number?.voiceMethod ?? 'POST';
  void driveCall(ctx, call, { kind: 'fetch', url: voiceUrl, method, purpose: 'voice' });
  return call;
}

export function startOutboundCall(ctx: EmulatorContext, reg: CallRegistry, init: OutboundCallInit): Call {
  const call = new Call(ctx, { from: init.from, to: init.to, direction: 'outbound-api', statusCallback: init.statusCallback });
  reg.calls.set(call.sid, call);
  call.setStatus('queued');
  // Handlers run before the call is answered so a test can set call.handlers in time.
  for (const handler of reg.outboundHandlers) {
    try {
      handler(call);
    } catch (err) {
      ctx.logger.error({ callSid: call.sid, err }, 'onOutboundCall handler failed');
    }
  }
  setImmediate(() => {
    answerOutbound(ctx, call, init).catch((err: unknown) => ctx.logger.error({ callSid: call.sid, err }, 'outbound call failed'));
  });
  return call;
}

async function answerOutbound(ctx: EmulatorContext, call: Call, init: OutboundCallInit): Promise<void> {
  // Twilio takes the call out of its queue and dials it (the `initiated` event: the Call is still
  // `queued`), then it rings
  if (call.finished) return;
  await call.postStatus('initiated');
  if (call.finished) return;
  call.setStatus('ringing');
  await call.postStatus('ringing');
  if (call.finished) return;
  const outcome = ctx.faults.outboundCallOutcome;
  if (outcome) {
    await call.finish(outcome);
    return;
  }
  call.setStatus('in-progress');
  void call.postStatus('answered');
  const first =
    init.twiml !== undefined
      ? { kind: 'twiml' as const, twiml: init.twiml }
      : { kind: 'fetch' as const, url: init.url ?? '', method: init.method, purpose: 'voice' as const };
  await driveCall(ctx, call, first);
}
