/**
 * The agent panel's session ends, and with it everything it showed: on the agent's Sign out, and
 * when the token ends (the service closes the socket at its `exp`, 4401). The token is dropped,
 * the socket closed, and no call, capture or event line stays on screen for whoever sits down at
 * the desk next. Headless Chromium against the real service and the emulator.
 */
import type { Page, Route } from 'playwright-core';
import { pageWithSockets, panelSuite } from '../support/browser';
import { api, OFFER_NUMBER, placeCall, token } from '../support/agents';
import { waitFor } from '../support/harness';

const panel = panelSuite();

const text = (page: Page, sel: string) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, sel);

/**
 * A page signed in with `tok`, showing an offered call and an event line about it. The call is
 * placed first, so a short-lived token has its few seconds for the sign-in alone.
 */
async function showingAnOffer(tok: () => string, opts: { pausedClock?: boolean } = {}): Promise<{ page: Page; hangup: () => Promise<void> }> {
  const { call } = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  const page = await pageWithSockets(panel.browser);
  const start = Date.now();
  if (opts.pausedClock) await page.clock.install({ time: start });
  await page.goto(`${panel.h.url}/agent`);
  // Playwright's fake clock, paused ahead of where it ran to while the page loaded: its timers run only as the test runs it on
  if (opts.pausedClock) await page.clock.pauseAt(start + 60_000);
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

it('sends a lost sign-out again, with backoff, until the service ends the token', async () => {
  const tok = panel.h.app.services.auth.sign({ sub: 'alice', endpoint: 'client:alice', role: 'agent' }, 3600);
  const { page, hangup } = await showingAnOffer(() => tok, { pausedClock: true });
  // the first lost on the way, the second answered 503 (the store could not file it), the third let through
  let posts = 0;
  await page.route('**/v1/session/signout', (route) => {
    posts++;
    if (posts === 1) return route.abort('connectionfailed');
    if (posts === 2) return route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"store-unavailable"}' });
    return route.continue();
  });
  await page.click('#signout');
  expect(await text(page, '#status')).toBe('signed out');
  await expectSignedOut(page);
  await waitFor(() => posts === 1, 'the sign-out sent');
  expect((await api(panel.h, 'GET', '/v1/calls', tok)).status).toBe(200);
  // kept for the tries in the script alone: not on the page, nor in the browser's storage
  const kept = await page.evaluate(() => document.documentElement.outerHTML + JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie);
  expect(kept.includes(tok)).toBe(false);
  await page.clock.runFor(1000);
  await waitFor(() => posts === 2, 'the sign-out sent again after 1 s');
  expect((await api(panel.h, 'GET', '/v1/calls', tok)).status).toBe(200);
  await page.clock.runFor(1999);
  expect(posts).toBe(2);
  await page.clock.runFor(1);
  await waitFor(async () => (await api(panel.h, 'GET', '/v1/calls', tok)).status === 401, 'the token ended by the third try, 2 s later');
  expect(posts).toBe(3);
  // ended: nothing more is sent, and the screen still says only that it signed out
  await page.clock.runFor(60_000);
  expect(posts).toBe(3);
  expect(await text(page, '#status')).toBe('signed out');
  await hangup();
  await page.close();
});

it('says so when the sign-out never reached the service after its tries', async () => {
  const tok = panel.h.app.services.auth.sign({ sub: 'alice', endpoint: 'client:alice', role: 'agent' }, 3600);
  const { page, hangup } = await showingAnOffer(() => tok, { pausedClock: true });
  let posts = 0;
  await page.route('**/v1/session/signout', (route) => {
    posts++;
    return route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"store-unavailable"}' });
  });
  await page.click('#signout');
  // the first try and five more, 1 + 2 + 4 + 8 + 16 s apart
  for (const [after, tries] of [
    [0, 1],
    [1000, 2],
    [2000, 3],
    [4000, 4],
    [8000, 5],
    [16000, 6],
  ]) {
    await page.clock.runFor(after);
    await waitFor(() => posts === tries, `try ${tries}`);
  }
  await page.waitForFunction(
    () => document.getElementById('status')?.textContent === 'signed out here, but the service could not be told: the token stays good until it expires',
  );
  await page.clock.runFor(60_000);
  expect(posts).toBe(6);
  await hangup();
  await page.close();
});

it('says what happened when the service could not check the token at sign-in, and keeps "token refused" for a refusal', async () => {
  const tok = panel.h.app.services.auth.sign({ sub: 'alice', endpoint: 'client:alice', role: 'agent' }, 3600);
  const page = await pageWithSockets(panel.browser);
  await page.goto(`${panel.h.url}/agent`);
  const answers: Array<[(r: Route) => Promise<void>, string]> = [
    [
      (r) => r.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"store-unavailable"}' }),
      'the service could not check the token; try again',
    ],
    [(r) => r.fulfill({ status: 500, contentType: 'application/json', body: '{}' }), 'the service could not check the token; try again'],
    [(r) => r.abort('connectionfailed'), 'the service could not check the token; try again'],
    [(r) => r.fulfill({ status: 429, contentType: 'application/json', body: '{"error":"rate-limited"}' }), 'too many tries; wait a minute'],
    [(r) => r.fulfill({ status: 403, contentType: 'application/json', body: '{}' }), 'token refused: not a valid token'],
    [(r) => r.fulfill({ status: 401, contentType: 'application/json', body: '{}' }), 'token refused: not a valid token'],
  ];
  for (const [answer, said] of answers) {
    await page.route('**/v1/calls', answer);
    await page.fill('#token', tok);
    await page.click('#signin');
    await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, said);
    // not signed in: nothing to sign out, no socket opened
    expect([said, await page.isDisabled('#signout')]).toEqual([said, true]);
    expect(await page.evaluate(() => (window as unknown as { opened: WebSocket[] }).opened.length)).toBe(0);
    await page.unroute('**/v1/calls');
  }
  // the same token, once the service answers: signed in
  await page.fill('#token', tok);
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  expect(await text(page, '#status')).toBe('signed in');
  await page.close();
});

it('a sign-in with another token ends the session before it on the service, whether the new token is good or refused', async () => {
  const first = token(panel.h, 'alice');
  const { page, hangup } = await showingAnOffer(() => first);
  // refused: the screen is cleared, and the first token no longer good anywhere
  await page.fill('#token', 'not-a-token');
  await page.click('#signin');
  await page.waitForFunction(() => (document.getElementById('status')?.textContent ?? '').startsWith('token refused'));
  await expectSignedOut(page);
  await waitFor(async () => (await api(panel.h, 'GET', '/v1/calls', first)).status === 401, 'the first token refused');
  // good: the session it replaces ends too, and the new one goes on
  // two texts for the same agent (tokens signed in the same second for the same claims are the same text)
  const alice = { sub: 'alice', endpoint: 'client:alice', role: 'agent' } as const;
  const second = panel.h.app.services.auth.sign(alice, 3600);
  const third = panel.h.app.services.auth.sign(alice, 3601);
  await page.fill('#token', second);
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  await page.fill('#token', third);
  await page.click('#signin');
  await waitFor(async () => (await api(panel.h, 'GET', '/v1/calls', second)).status === 401, 'the second token refused');
  expect((await api(panel.h, 'GET', '/v1/calls', third)).status).toBe(200);
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
