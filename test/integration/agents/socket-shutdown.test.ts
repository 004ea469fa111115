/**
 * An instance that shuts down tells each agent panel's socket why (1001, going away: RFC 6455
 * §7.4.1) before it closes, so the panel knows to reconnect elsewhere. Before, the WebSocket
 * plugin's own close ran first and sent no code at all (the panel saw 1005).
 */
import { startHarness } from '../../support/harness';
import { AgentSocket, token } from '../../support/agents';

it("a panel's socket is closed 1001 'shutting down' when its instance closes", async () => {
  const h = await startHarness({ store: 'embedded' });
  const s = await AgentSocket.open(h, token(h, 'alice'));
  await h.close();
  expect(await s.closed).toEqual({ code: 1001, reason: 'shutting down' });
});
