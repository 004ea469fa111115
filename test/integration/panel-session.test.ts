/**
 * The agent panel's session ends, and with it everything it showed: on the agent's Sign out, and
 * when the token ends (the service closes the socket at its `exp`, 4401). The token is dropped,
 * the socket closed, and no call, capture or event line stays on screen for whoever sits down at
 * the desk next. Headless Chromium against the real service and the emulator.
 */
import type { Page } from 'playwright-core';
import { pageWithSockets, panelSuite } from '../support/browser';
import { api, OFFER_NUMBER, placeCall, token } from '../support/agents';
import { waitFor } from '../support/harness';

const panel = panelSuite();

const text = (page: Page, sel: string) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, sel);

/**
 * A page signed in with `tok`, showing an offered call and an event line about it. The call is
 * placed first, so a short-lived token has its few seconds for the sign-in alone.
 */
async function showingAnOffer(tok: () => string): Promise<{ page: Page; hangup: () => Promise<void> }> {
  const { call } = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  const page = await pageWithSockets(panel.browser);
  await page.goto(`${panel.h.url}/agent`);
  expect(await page.isDisabled('#signout')).toBe(true);
  await page.fill('#token', tok());
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  expect(await page.isDisabled('#signout')).toBe(false);
  await page.waitForSelector(`tr[data-call="${call.sid}"] button.accept`);
  // the offer as its event says it again (the panel read the call from the list at sign-in)
  await panel.h.app.services.events.publish({ type: 'handoff.offered', callSid: call.sid, from: '+*******4567', fields: {} });
  await page.waitForFunction((sid) => (document.getElementById('log')?.textContent ?? '').includes(`handoff.offered ${sid}`), call.sid);
  return { page, hangup: () => call.hangup() };
}

/** nothing of a call on screen, the socket closed, and nothing left to click that would use a token */
async function expectSignedOut(page: Page): Promise<void> {
  expect(await page.evaluate(() => document.querySelectorAll('#calls tr').length)).toBe(0);
  expect(await page.evaluate(() => document.querySelectorAll('#log li').length)).toBe(0);
  expect(await text(page, '#selected')).toBe('no call selected');
  expect(await text(page, '#connection')).toBe('offline');
  await page.waitForFunction(() => (window as unknown as { opened: WebSocket[] }).opened.every((w) => w.readyState === WebSocket.CLOSED));
  for (const button of ['#signout', '#refresh', '#capture-start', '#payment-start']) expect([button, await page.isDisabled(button)]).toEqual([button, true]);
}

it('signs out: the token dropped, the socket closed, no call or event left on screen, and the token ended on the service', async () => {
  const tok = token(panel.h, 'alice');
  const { page, hangup } = await showingAnOffer(() => tok);
  await page.click('#signout');
  expect(await text(page, '#status')).toBe('signed out');
  await expectSignedOut(page);
  // a copy of the token is no good after (POST /v1/session/signout, sent as the panel signed out)
  await waitFor(async () => (await api(panel.h, 'GET', '/v1/calls', tok)).status === 401, 'the token refused');
  await hangup();
  await page.close();
});

it('signs out all the same when the service cannot be told', async () => {
  const tok = panel.h.app.services.auth.sign({ sub: 'alice', endpoint: 'client:alice', role: 'agent' }, 3600);
  const { page, hangup } = await showingAnOffer(() => tok);
  let asked = false;
  await page.route('**/v1/session/signout', (route) => {
    asked = true;
    return route.abort('connectionfailed');
  });
  await page.click('#signout');
  expect(await text(page, '#status')).toBe('signed out');
  await expectSignedOut(page);
  await waitFor(() => asked, 'the sign-out sent');
  await hangup();
  await page.close();
});

it("signs out when the token ends: the service's 4401 at its exp clears the screen too", async () => {
  // signed as the panel is given it: 6 s is the sign-in's time with room to spare
  const { page, hangup } = await showingAnOffer(() => panel.h.app.services.auth.sign({ sub: 'erin', endpoint: 'client:erin', role: 'agent' }, 6));
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'signed out: your token expired, paste a new one', undefined, {
    timeout: 10_000,
  });
  await expectSignedOut(page);
  await hangup();
  await page.close();
});
