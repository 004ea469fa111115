/**
 * PCI DSS 8.2.8: the agent panel signs itself out when left idle for AGENT_IDLE_TIMEOUT_SECONDS
 * (here 4 s), as its Sign out does: the token dropped, the socket closed, every call and event
 * line cleared, and a status that says why. A key or a pointer input before then keeps the
 * session. The page's clock is Playwright's fake one, paused: time passes only as a test runs it
 * on, so the session's staying signed in is shown on that clock, not by waiting.
 */
import type { Page } from 'playwright-core';
import { pageWithSockets, panelSuite } from '../support/browser';
import { api, OFFER_NUMBER, placeCall, token } from '../support/agents';
import { waitFor } from '../support/harness';

const IDLE_S = 4;
const panel = panelSuite({ env: { AGENT_IDLE_TIMEOUT_SECONDS: String(IDLE_S) } });

const text = (page: Page, sel: string) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, sel);
const IDLE_OUT = `signed out: no activity for ${IDLE_S} seconds, sign in again`;

/** a page on a paused clock, signed in as `sub` and showing an offered call and an event line about it */
async function signedInIdle(sub: string): Promise<{ page: Page; hangup: () => Promise<void>; callSid: string; tok: string }> {
  const { call } = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  const page = await pageWithSockets(panel.browser);
  const start = Date.now();
  await page.clock.install({ time: start });
  await page.goto(`${panel.h.url}/agent`);
  // paused ahead of wherever the fake clock ran to while the page loaded; no timer runs yet
  await page.clock.pauseAt(start + 60_000);
  const tok = token(panel.h, sub);
  await page.fill('#token', tok);
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  await page.waitForSelector(`tr[data-call="${call.sid}"] button.accept`);
  await panel.h.app.services.events.publish({ type: 'handoff.offered', callSid: call.sid, from: '+*******4567', fields: {} });
  await page.waitForFunction((sid) => (document.getElementById('log')?.textContent ?? '').includes(`handoff.offered ${sid}`), call.sid);
  return { page, hangup: () => call.hangup(), callSid: call.sid, tok };
}

/** the session as it was: the call on screen, its event line, the socket open, Sign out to click */
async function expectSignedIn(page: Page, callSid: string): Promise<void> {
  expect(await page.evaluate((sid) => document.querySelectorAll(`tr[data-call="${sid}"]`).length, callSid)).toBe(1);
  expect(await page.evaluate(() => document.querySelectorAll('#log li').length)).toBeGreaterThan(0);
  expect(await text(page, '#connection')).toBe('live');
  expect(await page.isDisabled('#signout')).toBe(false);
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

it('the service hands the panel its idle time in the page, which its policy does not need to name', async () => {
  const res = await fetch(`${panel.h.url}/agent`);
  const html = await res.text();
  expect(html).toContain(`<meta name="tonewall-idle-timeout-seconds" content="${IDLE_S}">`);
  // the script is the same text whatever the time: the policy's one hash still allows it
  expect(res.headers.get('content-security-policy')).toMatch(/script-src 'sha256-[^']+'; /);
});

it('signs out after the idle time with no input: warned a second before, then the token dropped and the screen cleared', async () => {
  const { page, hangup, tok } = await signedInIdle('alice');
  await page.clock.runFor((IDLE_S - 1) * 1000);
  expect(await text(page, '#status')).toBe('no activity: signing out in 1 s unless you press a key or move the pointer');
  await page.clock.runFor(1000);
  expect(await text(page, '#status')).toBe(IDLE_OUT);
  await expectSignedOut(page);
  // and ended on the service, as the agent's Sign out ends it
  await waitFor(async () => (await api(panel.h, 'GET', '/v1/calls', tok)).status === 401, 'the token refused');
  await hangup();
  await page.close();
});

it('a key or a pointer input before the idle time keeps the session, and the idle time counts again from it', async () => {
  const { page, hangup, callSid } = await signedInIdle('bob');
  await page.clock.runFor((IDLE_S - 0.5) * 1000);
  expect(await text(page, '#status')).toMatch(/^no activity: signing out/);
  await page.keyboard.press('Shift');
  expect(await text(page, '#status')).toBe('signed in');
  await page.clock.runFor((IDLE_S - 0.5) * 1000);
  // 7 s since sign-in, 3.5 s since the key
  await expectSignedIn(page, callSid);
  await page.mouse.move(5, 5);
  await page.mouse.move(40, 30);
  await page.clock.runFor((IDLE_S - 0.5) * 1000);
  await expectSignedIn(page, callSid);
  // and idle from the pointer's move on: out
  await page.clock.runFor(500);
  expect(await text(page, '#status')).toBe(IDLE_OUT);
  await expectSignedOut(page);
  await hangup();
  await page.close();
});

it('an input that comes after the idle time, its timer held back (a hidden tab, a machine asleep), signs out and keeps nothing', async () => {
  const { page, hangup } = await signedInIdle('carol');
  // the clock moves on and no timer fires, as in a throttled tab
  await page.clock.setSystemTime((await page.evaluate(() => Date.now())) + (IDLE_S + 60) * 1000);
  await page.keyboard.press('Shift');
  expect(await text(page, '#status')).toBe(IDLE_OUT);
  await expectSignedOut(page);
  await hangup();
  await page.close();
});
