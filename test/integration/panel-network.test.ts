/**
 * A panel request that gets no answer (the network down, the service gone: Playwright aborts it)
 * says so in the status line, "the service could not be reached; try again", leaves the panel as
 * it was with every button as it was, and throws nothing unhandled; the same click works once the
 * service answers again. Headless Chromium against the real service and the emulator.
 */
import type { Page } from 'playwright-core';
import { pageWithSockets, panelSuite } from '../support/browser';
import { agentSide, OFFER_NUMBER, placeCall, token } from '../support/agents';

const panel = panelSuite();

const UNREACHABLE = 'the service could not be reached; try again';
const text = (page: Page, sel: string) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, sel);

/** requests to `pattern` fail as a network error until the returned function is called */
async function cut(page: Page, pattern: string): Promise<() => Promise<void>> {
  await page.route(pattern, (route) => route.abort('connectionfailed'));
  return () => page.unroute(pattern);
}

it('says the service could not be reached when a payment start, a payment update or a refresh gets no answer, and the same click works after', async () => {
  const page = await pageWithSockets(panel.browser);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${panel.h.url}/agent`);
  await page.fill('#token', token(panel.h, 'alice'));
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  const { call } = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  const row = `tr[data-call="${call.sid}"]`;
  await page.waitForSelector(`${row} button.accept`, { timeout: 10_000 });
  await page.click(`${row} button.accept`);
  await agentSide(panel.h, call.sid);
  await page.waitForFunction((sel) => document.querySelector(`${sel} td.state`)?.textContent === 'bridged', row, { timeout: 10_000 });

  // Start payment with no answer: said, nothing opened, the button there to try again
  let mend = await cut(page, '**/v1/calls/*/payments');
  await page.click('#payment-start');
  await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, UNREACHABLE);
  expect(await page.$$('tr[data-field]')).toHaveLength(0);
  expect(await page.isDisabled('#payment-start')).toBe(false);
  await mend();
  await page.click('#payment-start');
  await page.waitForSelector('tr[data-field="card"] button.ask');
  // a request answered again takes the word down
  expect(await text(page, '#status')).not.toBe(UNREACHABLE);

  // Cancel payment and Ask with no answer: said, the payment still open, its buttons still there
  mend = await cut(page, '**/v1/calls/*/payments/*');
  await page.click('#payment-cancel');
  await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, UNREACHABLE);
  await page.evaluate(() => (document.getElementById('status')!.textContent = ''));
  await page.click('tr[data-field="card"] button.ask');
  await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, UNREACHABLE);
  expect(await text(page, '#payment-status')).toMatch(/^open/);
  for (const b of ['#payment-cancel', 'tr[data-field="card"] button.ask']) expect([b, await page.isDisabled(b)]).toEqual([b, false]);
  expect(await page.isDisabled('#payment-start')).toBe(true);
  await mend();
  await page.click('#payment-cancel');
  await page.waitForFunction(() => /^cancel/.test(document.getElementById('payment-status')?.textContent ?? ''));
  expect(await page.isDisabled('#payment-start')).toBe(false);

  // Refresh with no answer: said, the calls shown as they were
  mend = await cut(page, '**/v1/calls');
  await page.click('#refresh');
  await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, UNREACHABLE);
  expect(await page.$$(row)).toHaveLength(1);
  expect(await page.isDisabled('#refresh')).toBe(false);
  await mend();

  expect(problems).toEqual([]);
  await call.hangup();
  await page.close();
});
