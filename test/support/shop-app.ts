/**
 * The customer's own IVR for drop-in capture tests (issue 13): another host, its own webhooks,
 * every Twilio request to it checked with the twilio package. It answers the call, says hello,
 * redirects it to tonewall's capture route and records what comes back to its return URL.
 */
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import twilio from 'twilio';
import { createTwilioClient } from '../../src/twilio/rest';
import { ACCOUNT_SID, AUTH_TOKEN } from './harness';

/** the shop's number, a caller of its, and the CAPTURE_RESULT_SECRET the drop-in tests sign results with */
export const SHOP_NUMBER = '+15005550150';
export const SHOP_CALLER = '+15551239876';
export const CAPTURE_SECRET = 'capture-result-secret-0123456789abcdef';

/** the parameters of a <Gather> action Twilio posts for a call to the shop: keys ended by '#' as Twilio reports them (FinishedOnKey) */
export function shopGatherParams(callSid: string, keys: string): Record<string, string> {
  const params = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: SHOP_CALLER, To: SHOP_NUMBER, CallStatus: 'in-progress', Direction: 'inbound' };
  return keys.endsWith('#') ? { ...params, Digits: keys.slice(0, -1), FinishedOnKey: '#' } : { ...params, Digits: keys };
}

/** what the shop's return URL received */
export interface Returned {
  query: Record<string, string>;
  body: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Twilio signed it (a redirect), or not (tonewall's server-to-server POST) */
  fromTwilio: boolean;
}

/** The customer's own IVR: another host, its own paths, checking every Twilio signature. */
export class ShopApp {
  app: FastifyInstance = Fastify({ logger: false });
  url = '';
  returned: Returned[] = [];
  refusedSignatures = 0;
  /**
   * how many recordings to start over REST (the app's own policy: a dual-channel one, then a
   * mono compliance one) before handing the call to tonewall
   */
  recordings = 0;
  /** the call's recordings as the app lists them when the call comes back to it */
  atReturn: { sid: string; status: string }[] = [];
  /** pause that recording itself before the redirect (as an app does before a <Pay>) */
  pauseOwn = false;
  returnUrl = '';

  /** the gateway's HTTP status for a charge */
  chargeStatus = 200;
  charges = 0;
  /** runs as a charge comes in, before the gateway answers (a test's fault, such as the store stopping) */
  onCharge?: () => Promise<void>;
  /** runs as the call reaches the app's payment step, before it starts recordings and redirects */
  onPay?: () => Promise<void>;
  /** runs as Twilio brings the call back to the return URL, before the app answers (the call is the app's meanwhile) */
  onReturn?: () => Promise<void>;
  /** runs as tonewall's server-to-server result POST comes in, before the app answers it (the POST is in flight meanwhile) */
  onResult?: () => Promise<void>;
  /** take the keys in a <Gather> of its own instead of redirecting to tonewall (the decoder's control) */
  ownGather = false;
  /** the tonewall flow the shop redirects its callers to */
  captureFlow = 'card-capture';
  /** redirect there instead of to the capture route (an app that hands its callers to an IVR flow's Voice URL) */
  redirectTo?: string;

  constructor(
    private readonly tonewall: string,
    private readonly emulatorUrl: string,
    private readonly port: number,
    /** a card number the gateway's answer echoes, beyond what may be shown */
    private readonly echo: string,
  ) {}

  /** what a test may have changed, as a new shop has it (`charges` and `refusedSignatures` keep counting) */
  reset(): void {
    this.returned = [];
    this.recordings = 0;
    this.atReturn = [];
    this.pauseOwn = false;
    this.ownGather = false;
    this.captureFlow = 'card-capture';
    this.redirectTo = undefined;
    this.chargeStatus = 200;
    this.onCharge = undefined;
    this.onPay = undefined;
    this.onReturn = undefined;
    this.onResult = undefined;
    this.returnUrl = `${this.url}/paid?order=42`;
  }

  async start(): Promise<void> {
    const port = this.port;
    this.url = `http://127.0.0.1:${port}`;
    this.returnUrl = `${this.url}/paid?order=42`;
    const rest = createTwilioClient({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBaseUrl: this.emulatorUrl });
    await this.app.register(formbody);
    const signed = (req: { url: string; headers: Record<string, unknown>; body: unknown }): boolean => {
      const sig = req.headers['x-twilio-signature'];
      const ok = typeof sig === 'string' && twilio.validateRequest(AUTH_TOKEN, sig, this.url + req.url, (req.body ?? {}) as Record<string, string>);
      if (!ok) this.refusedSignatures++;
      return ok;
    };
    const xml = (r: InstanceType<typeof twilio.twiml.VoiceResponse>) => r.toString();
    this.app.post('/voice', async (req, reply) => {
      if (!signed(req)) return reply.code(403).send();
      const r = new twilio.twiml.VoiceResponse();
      r.say('Hello from Example Shop.');
      r.redirect({ method: 'POST' }, `${this.url}/pay`);
      return reply.type('text/xml').send(xml(r));
    });
    this.app.post('/pay', async (req, reply) => {
      if (!signed(req)) return reply.code(403).send();
      await this.onPay?.();
      const body = req.body as Record<string, string>;
      for (let i = 0; i < this.recordings; i++) {
        const rec = await rest.calls(body.CallSid).recordings.create({ recordingChannels: i === 0 ? 'dual' : 'mono' });
        if (this.pauseOwn && i === 0) await rest.calls(body.CallSid).recordings(rec.sid).update({ status: 'paused', pauseBehavior: 'skip' });
      }
      const r = new twilio.twiml.VoiceResponse();
      if (this.ownGather)
        r.gather({ input: ['dtmf'], finishOnKey: '#', action: this.returnUrl, method: 'POST' }).say('Key in your card number, then press hash.');
      else
        r.redirect({ method: 'POST' }, this.redirectTo ?? `${this.tonewall}/twilio/capture/${this.captureFlow}?return=${encodeURIComponent(this.returnUrl)}`);
      return reply.type('text/xml').send(xml(r));
    });
    this.app.post('/charge', async (_req, reply) => {
      this.charges++;
      await this.onCharge?.();
      // an answer with more than may be shown: only the allow-listed summary travels on
      return reply.code(this.chargeStatus).send({ status: 'approved', code: 'A1B2', reference: 'ch_42', note: `card ${this.echo} ok` });
    });
    this.app.post('/paid', async (req, reply) => {
      const fromTwilio = typeof req.headers['x-twilio-signature'] === 'string';
      if (fromTwilio && !signed(req)) return reply.code(403).send();
      if (fromTwilio) await this.onReturn?.();
      else await this.onResult?.();
      if (fromTwilio && this.recordings > 0) {
        const listed = await rest.calls((req.body as Record<string, string>).CallSid).recordings.list();
        this.atReturn = listed.map((r) => ({ sid: r.sid, status: r.status }));
      }
      this.returned.push({
        query: { ...(req.query as Record<string, string>) },
        body: { ...(req.body as Record<string, string>) },
        headers: req.headers,
        fromTwilio,
      });
      const r = new twilio.twiml.VoiceResponse();
      r.say('Thank you for your payment.');
      r.hangup();
      return reply.type('text/xml').send(xml(r));
    });
    await this.app.listen({ port, host: '127.0.0.1' });
  }
}
