/**
 * The service keeps the idle limit too (auth/idle.ts): a token unused for
 * AGENT_IDLE_TIMEOUT_SECONDS (here 6 s, on the service's clock) is refused, and its socket closed
 * 4401 `idle`. So the panel tells the service of the agent's input: `{"type":"activity"}` on its
 * socket on a key or pointer input, at most once per quarter of the idle time (1.5 s here), and
 * never for an event it receives. An agent who keeps using the panel stays signed in past the
 * service's limit; a panel no one touches is signed out by the service, and says why. The pages'
 * clocks are Playwright's, paused (their own idle timers and polls run only as the test moves
 * them), and their re-reads of the calls are answered in the page, so the service hears of them
 * only through the socket.
 */
import type { Page } from 'playwright-core';
import { pageWithSockets, panelSuite } from '../support/browser';
import { api, token } from '../support/agents';
import { waitFor } from '../support/harness';

// long enough that a loaded host's stall between two of the test's keys (one a second) is no idle time
const IDLE_S = 6;
// the service re-reads its open sockets' tokens every 100 ms (socket-limits.ts REVOCATION_CHECK_MS)
const panel = panelSuite({ env: { AGENT_IDLE_TIMEOUT_SECONDS: String(IDLE_S) }, build: { agentSocketLimits: { revocationCheckMs: 100 } } });

const text = (page: Page, sel: string) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, sel);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** a page on a paused clock, signed in with `tok`; `sent` lists the text frames its sockets sent after the auth */
async function signedIn(tok: string): Promise<{ page: Page; sent: string[] }> {
  const page = await pageWithSockets(panel.browser);
  const sent: string[] = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => typeof f.payload === 'string' && !f.payload.includes('"auth"') && sent.push(f.payload)));
  const start = Date.now();
  await page.clock.install({ time: start });
  await page.goto(`${panel.h.url}/agent`);
  await page.clock.pauseAt(start + 60_000);
  await page.fill('#token', tok);
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  // the 5 s re-read of the calls would be a use of the token: answered here, it does not reach the service
  await page.route('**/v1/calls', (route) => route.fulfill({ json: { calls: [] } }));
  return { page, sent };
}

const activities = (sent: string[]) => sent.filter((f) => f === '{"type":"activity"}').length;

it('sends activity on a key or a pointer input, at most once a quarter of the idle time, and never for an event', async () => {
  // a supervisor: told of every call's events, one with no record too
  const { page, sent } = await signedIn(token(panel.h, 'alice', 'supervisor'));
  await page.keyboard.press('Shift');
  await waitFor(() => activities(sent) === 1, 'the first input told');
  // within the quarter: nothing more, whatever the input
  await page.keyboard.press('Shift');
  await page.mouse.move(10, 10);
  await page.mouse.move(50, 40);
  // an event received is no input
  await panel.h.app.services.events.publish({ type: 'handoff.offered', callSid: `CA${'7'.repeat(32)}`, from: '+*******4567', fields: {} });
  await page.waitForFunction(() => (document.getElementById('log')?.textContent ?? '').includes('handoff.offered'));
  await page.clock.runFor(IDLE_S * 250);
  // the quarter over: the next input is told; frames arrive in order, so none came between
  await page.mouse.move(90, 70);
  await waitFor(() => activities(sent) === 2, 'the next input told');
  expect(sent).toEqual(['{"type":"activity"}', '{"type":"activity"}']);
  await page.close();
});

it('stays signed in past the service’s idle limit while the agent uses it, while a panel no one touches is signed out by the service', async () => {
  const busyTok = token(panel.h, 'bob');
  const busy = await signedIn(busyTok);
  const quiet = await signedIn(token(panel.h, 'carol'));
  // twice the service's limit in real time, a key every second (a quarter of the limit on the page's clock)
  for (let i = 0; i < 2 * IDLE_S; i++) {
    await busy.page.clock.runFor(IDLE_S * 250);
    await busy.page.keyboard.press('Shift');
    await sleep(1000);
  }
  expect(await text(busy.page, '#connection')).toBe('live');
  expect(await text(busy.page, '#status')).toBe('signed in');
  expect(activities(busy.sent)).toBeGreaterThanOrEqual(2 * IDLE_S);
  expect((await api(panel.h, 'GET', '/v1/calls', busyTok)).status).toBe(200);
  // the other panel's own timer never ran (its clock paused): the service ended it, and it says why
  await quiet.page.waitForFunction(() => document.getElementById('connection')?.textContent === 'offline');
  expect(await text(quiet.page, '#status')).toBe(`signed out: no activity for ${IDLE_S} seconds, sign in again`);
  expect(activities(quiet.sent)).toBe(0);
  await busy.page.close();
  await quiet.page.close();
}, 90_000);
