/**
 * The agent panel signing in to an instance that is draining (SIGTERM): its socket is refused
 * 1013 `draining`, and the panel reconnects with its usual backoff (1 s, doubling), keeping the
 * agent signed in, until it reaches an instance that takes it (here the same one, its drain
 * over). Headless Chromium against the real service.
 */
import { pageWithSockets, panelSuite } from '../support/browser';
import { token } from '../support/agents';

const panel = panelSuite();

it('a socket refused 1013 while the instance drains is reconnected, the agent still signed in', async () => {
  const page = await pageWithSockets(panel.browser);
  // each socket's close code, as the page saw it
  await page.addInitScript(() => {
    const closes: number[] = [];
    (window as unknown as { closes: number[] }).closes = closes;
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener('close', (e) => closes.push(e.code));
      }
    };
  });
  await page.goto(`${panel.h.url}/agent`);
  panel.h.app.services.draining = true;
  try {
    await page.fill('#token', token(panel.h, 'alice'));
    await page.click('#signin');
    await page.waitForFunction(() => (window as unknown as { closes: number[] }).closes.includes(1013));
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'disconnected: reconnecting');
    // not signed out: the token is kept for the next try
    expect(await page.isDisabled('#signout')).toBe(false);
    expect(await page.textContent('#connection')).toBe('offline');
  } finally {
    panel.h.app.services.draining = false;
  }
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'reconnected', undefined, { timeout: 10_000 });
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  expect(await page.isDisabled('#signout')).toBe(false);
  await page.close();
});
