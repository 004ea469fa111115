/**
 * Shutting down with a webhook still in flight (a Twilio callback that arrived as the media
 * streams were being closed): its answer ends its connection, so the server's close is not held
 * open for the keep-alive timeout by a connection that was busy when the close began.
 */
import http from 'node:http';
import { callbackIdentity } from '../../src/twilio/replay-identity';
import { ACCOUNT_SID, startHarness } from '../support/harness';

it('a webhook answered during the close carries Connection: close and its connection ends', async () => {
  const h = await startHarness();
  let closed: Promise<void> | undefined;
  try {
    const url = `${h.url}/twilio/status`;
    const params = { AccountSid: ACCOUNT_SID, CallSid: 'CA' + '7'.repeat(32), CallStatus: 'in-progress' };
    // sent to the service's own port, signed for PUBLIC_URL as the TLS proxy in front passes it on
    const signature = h.emulator.signature(`${h.publicUrl}/twilio/status`, params);
    // the same callback is already being handled: ours waits for that first answer
    const identity = callbackIdentity('status')(params, signature)!;
    expect(await h.app.services.replay.claim(identity)).toEqual({ first: true });

    const agent = new http.Agent({ keepAlive: true });
    const answered = new Promise<{ status: number; connection?: string; socketClosed: Promise<void> }>((resolve, reject) => {
      const req = http.request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature } },
        (res) => {
          res.resume();
          const socketClosed = new Promise<void>((done) => req.socket!.once('close', () => done()));
          resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, socketClosed });
        },
      );
      req.on('error', reject);
      req.end(new URLSearchParams(params).toString());
    });
    // it is in flight (waiting) when the close begins; then the first answer comes
    await new Promise((r) => setTimeout(r, 100));
    closed = h.app.close();
    await new Promise((r) => setTimeout(r, 50));
    await h.app.services.replay.remember(identity, { status: 204, contentType: 'text/plain', body: '' });

    const res = await answered;
    expect(res.status).toBe(204);
    expect(res.connection).toBe('close');
    await res.socketClosed;
    await closed;
    agent.destroy();
  } finally {
    await (closed ?? h.app.close());
    await h.redisStore?.close();
    await h.emulator.close();
  }
});
