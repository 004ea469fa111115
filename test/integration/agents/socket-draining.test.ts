/**
 * An agent socket opened to an instance that is draining (SIGTERM, server.ts) is refused at once,
 * 1013 `draining` (RFC 6455: try again later), before any auth work, so the panel reconnects with
 * its backoff and reaches an instance that stays; before, it was let in and closed 1001 at the
 * close a few seconds later. A socket opened before the drain stays until that close. The drain
 * is started as server.ts's signal starts it (`services.draining`), in process.
 */
import { startHarness } from '../../support/harness';
import { AgentSocket, token } from '../../support/agents';

it('a draining instance refuses a new agent socket 1013, and keeps one already open until its close', async () => {
  const h = await startHarness({ store: 'embedded' });
  let closed = false;
  try {
    const open = await AgentSocket.open(h, token(h, 'alice'));
    const opened = await AgentSocket.open(h);
    h.app.services.draining = true;

    // a socket opened now: refused before its auth message is even sent
    const late = await AgentSocket.open(h);
    expect(await late.closed).toEqual({ code: 1013, reason: 'draining' });
    // one opened just before the drain, its auth message sent during it: refused as well
    opened.send({ type: 'auth', token: token(h, 'bob') });
    expect(await opened.closed).toEqual({ code: 1013, reason: 'draining' });
    expect(h.logs.text).toContain('"reason":"draining"');

    // the socket let in before the drain is still served
    expect(open.isOpen).toBe(true);
    open.send({ type: 'probe' });
    await open.next((e) => e.type === 'error' && e.message === 'malformed message', 'an answer on the open socket');

    await h.close();
    closed = true;
    expect(await open.closed).toEqual({ code: 1001, reason: 'shutting down' });
  } finally {
    if (!closed) await h.close();
  }
});
