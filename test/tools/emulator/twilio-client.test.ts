import twilio from 'twilio';
import RequestClient from 'twilio/lib/base/RequestClient';
import { startTwilioEmulator, type EmulatedCall, type TwilioEmulator } from '../../../tools/emulator';
import { ACCOUNT_SID, AUTH_TOKEN, eventually, startFakeService, type FakeService } from './fake-service';

/** the official client, re-pointed at the emulator: what the service does */
class Rebased extends RequestClient {
  constructor(private readonly base: string) {
    super({ timeout: 5000 });
  }
  override request<T>(opts: RequestClient.RequestOptions<T>) {
    return super.request<T>({ ...opts, uri: opts.uri.replace('https://api.twilio.com', this.base) });
  }
}

describe('the twilio package talks to the emulator as to Twilio', () => {
  let emulator: TwilioEmulator;
  let service: FakeService;
  let client: ReturnType<typeof twilio>;

  beforeEach(async () => {
    emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    service = await startFakeService(AUTH_TOKEN);
    client = twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient: new Rebased(emulator.baseUrl) });
  });

  afterEach(async () => {
    await emulator.close();
    await service.close();
  });

  it('creates, records, pauses and ends calls; lists and updates numbers', async () => {
    const outbound = new Promise<EmulatedCall>((resolve) => emulator.onOutboundCall(resolve));
    const created = await client.calls.create({
      to: 'client:alice',
      from: '+15005550006',
      twiml: '<Response><Enqueue>hold</Enqueue></Response>',
      statusCallback: `${service.origin}/status`,
      statusCallbackEvent: ['answered', 'completed'],
    });
    expect(created.sid).toMatch(/^CA/);
    const call = await outbound;
    await eventually(() => call.status === 'in-progress');

    const rec = await client.calls(call.sid).recordings.create({ recordingChannels: 'dual', recordingStatusCallbackEvent: ['in-progress', 'completed'] });
    expect(rec.status).toBe('in-progress');
    const paused = await client.calls(call.sid).recordings('Twilio.CURRENT').update({ status: 'paused', pauseBehavior: 'skip' });
    expect(paused.status).toBe('paused');
    await expect(
      client
        .calls(call.sid)
        .recordings('RE' + '0'.repeat(32))
        .update({ status: 'in-progress' }),
    ).rejects.toMatchObject({
      status: 404,
      code: 20404,
    });
    const fetched = await client.calls(call.sid).fetch();
    expect(fetched.status).toBe('in-progress');

    const done = await client.calls(call.sid).update({ status: 'completed' });
    expect(done.status).toBe('completed');
    await call.ended;
    expect(service.requests.filter((r) => r.path === '/status').map((r) => r.params.CallStatus)).toEqual(['in-progress', 'completed']);

    const pn = emulator.addIncomingNumber('+15005550006');
    const [number] = await client.incomingPhoneNumbers.list({ phoneNumber: '+15005550006' });
    expect(number.sid).toBe(pn);
    const updated = await client.incomingPhoneNumbers(pn).update({ voiceUrl: `${service.origin}/voice`, voiceMethod: 'POST' });
    expect(updated.voiceUrl).toBe(`${service.origin}/voice`);

    const bad = twilio(ACCOUNT_SID, 'wrong', { httpClient: new Rebased(emulator.baseUrl) });
    await expect(bad.calls(call.sid).fetch()).rejects.toMatchObject({ status: 401, code: 20003 });
  });

  it('modifies a call in progress with inline TwiML (a <Dial> whose action is absolute); refuses a call not in progress (21220) and a relative action (15004)', async () => {
    service.routes.set('/dial-status', () => '<Response><Hangup/></Response>');
    const started = () => new Promise<EmulatedCall>((resolve) => emulator.onOutboundCall(resolve));
    const place = async () => {
      const outbound = started();
      await client.calls.create({ to: '+15005550007', from: '+15005550006', twiml: '<Response><Pause length="30"/></Response>' });
      const call = await outbound;
      await eventually(() => call.status === 'in-progress' && call.transcript.some((t) => t.verb === 'Pause'));
      return call;
    };

    const call = await place();
    await client
      .calls(call.sid)
      .update({ twiml: `<Response><Dial action="${service.origin}/dial-status" method="POST"><Client>bob</Client></Dial></Response>` });
    await call.ended;
    expect(call.transcript.map((t) => t.verb)).toEqual(['Pause', 'Dial', 'Hangup']);
    expect(call.transcript[1]).toEqual({ verb: 'Dial', target: 'bob', targetKind: 'Client' });
    expect(service.requests.filter((r) => r.path === '/dial-status').map((r) => r.params.DialCallStatus)).toEqual(['completed']);
    // over: Twilio redirects only a call in progress
    await expect(client.calls(call.sid).update({ twiml: '<Response><Say>late</Say></Response>' })).rejects.toMatchObject({ status: 400, code: 21220 });

    const relative = await place();
    await client.calls(relative.sid).update({ twiml: '<Response><Dial action="/dial-status"><Client>bob</Client></Dial></Response>' });
    await relative.ended;
    expect(relative.transcript.at(-1)).toMatchObject({ verb: 'ApplicationError', reason: expect.stringContaining('(15004)') });
    expect(relative.transcript.some((t) => t.verb === 'Dial')).toBe(false);
  });

  it('fetches the account its credentials name, as Twilio does: 401 (20003) for a wrong token, 404 (20404) for another account or a doubled path', async () => {
    const account = await client.api.v2010.accounts(ACCOUNT_SID).fetch();
    expect(account).toMatchObject({ sid: ACCOUNT_SID, ownerAccountSid: ACCOUNT_SID, status: 'active', type: 'Full', authToken: AUTH_TOKEN });
    expect(account.uri).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}.json`);

    const bad = twilio(ACCOUNT_SID, 'wrong', { httpClient: new Rebased(emulator.baseUrl) });
    await expect(bad.api.v2010.accounts(ACCOUNT_SID).fetch()).rejects.toMatchObject({ status: 401, code: 20003 });
    await expect(client.api.v2010.accounts('AC' + 'f'.repeat(32)).fetch()).rejects.toMatchObject({ status: 404, code: 20404 });
    // a base URL with the version in it: every path doubles, and Twilio has nothing there
    const doubled = twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient: new Rebased(`${emulator.baseUrl}/2010-04-01`) });
    await expect(doubled.api.v2010.accounts(ACCOUNT_SID).fetch()).rejects.toMatchObject({ status: 404, code: 20404 });
    // the account route leaves the account's own resources where they were
    expect(await client.calls.list()).toEqual([]);

    emulator.faults.accountFetch = { status: 503, times: 1 };
    await expect(client.api.v2010.accounts(ACCOUNT_SID).fetch()).rejects.toMatchObject({ status: 503 });
    expect((await client.api.v2010.accounts(ACCOUNT_SID).fetch()).sid).toBe(ACCOUNT_SID);
  });
});
