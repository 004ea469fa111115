/**
 * The agent panel says, on the call the agent is working, what each processor answered, in
 * words: no result when the delivery gave up, declined with its code, approved with its
 * reference; the latest per processor. A reload keeps it (the call's view, `processorResults`),
 * a sign-out clears it. Headless Chromium against the real service, the emulator and a gateway
 * written to Twilio's Generic Pay Connector spec, whose decline text quotes the card number.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser';
import { acceptedCall, api, keyed, makeFlowsDir, token } from '../support/agents';
import { CONNECTOR_ENV, genericPayProcessor, startGenericPayGateway, type GenericPayGateway } from '../support/generic-pay-gateway';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { currentExpiry } from '../support/values';
import type { MediaLeg } from '../../tools/emulator';

const APPROVED_CARD = '4111111111111111';
const DECLINED_CARD = '5555555555554444';
/** the gateway's first charge is ch_gw1: the tries that found it down made none */
const APPROVED = 'charger: approved (charged), ref ch_gw1';

let h: Harness;
let gw: GenericPayGateway;
let flowsDir: string;
let dir: string;
let browser: Browser;

beforeAll(async () => {
  gw = await startGenericPayGateway({ username: CONNECTOR_ENV.CONNECTOR_USER, password: CONNECTOR_ENV.CONNECTOR_PASSWORD });
  gw.declined.add(DECLINED_CARD);
  flowsDir = makeFlowsDir();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-panel-processor-'));
  const file = path.join(dir, 'processors.yaml');
  fs.writeFileSync(file, 'processors:\n' + genericPayProcessor('charger', gw, { fields: '[card, expiry, cvv]', method: 'charge', amount: '"12.50"' }));
  // a gateway that stays down is given up on in a moment, not in the contract's half minute
  h = await startHarness({
    flowsDir,
    env: { PROCESSORS_FILE: file, ...CONNECTOR_ENV },
    build: { processorBackoff: { baseMs: 20, maxMs: 50, maxAttempts: 5 } },
  });
  browser = await launchChromium();
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
  await gw?.close();
  for (const d of [flowsDir, dir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * A payment session on the call, its card, expiry and cvv keyed by the caller (the card last), then
 * completed: its values go to the processor. `beforeComplete` runs once the fields are valid.
 */
async function pay(tok: string, callSid: string, caller: MediaLeg, card: string, beforeComplete?: () => Promise<void>): Promise<void> {
  const started = await api(h, 'POST', `/v1/calls/${callSid}/payments`, tok, {});
  expect(started.status).toBe(201);
  const at = `/v1/calls/${callSid}/payments/${started.body.paymentId}`;
  for (const [field, keys] of [
    ['expiry', currentExpiry(5)],
    ['cvv', '123'],
    ['card', `${card}#`],
  ]) {
    expect((await api(h, 'POST', at, tok, { capture: field })).status).toBe(200);
    await waitFor(() => h.app.services.calls.get(callSid).then((s) => s?.agentRecording?.status === 'paused'), 'recording paused');
    await caller.sendAudio(keyed(keys));
    await waitFor(
      async () => (await api(h, 'GET', at, tok)).body.fields.find((f: { name: string }) => f.name === field)?.status === 'valid',
      `${field} valid`,
      10_000,
    );
  }
  await beforeComplete?.();
  expect((await api(h, 'POST', at, tok, { status: 'complete' })).status).toBe(200);
}

/** waits until `sel` reads `expected`, then gives its class */
async function shows(page: Page, sel: string, expected: string): Promise<string> {
  await page.waitForFunction(({ s, t }) => document.querySelector(s)?.textContent === t, { s: sel, t: expected }, { timeout: 15_000 });
  return page.evaluate((s) => document.querySelector(s)!.className, sel);
}

async function signIn(page: Page, tok: string): Promise<void> {
  await page.goto(`${h.url}/agent`);
  await page.fill('#token', tok);
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
}

it("shows each processor's latest answer on its call in words, keeps it over a reload, and clears it on sign-out", async () => {
  const alice = token(h, 'alice');
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  await signIn(page, alice);
  const { call, caller } = await acceptedCall(h, alice);
  const row = `tr[data-call="${call.sid}"]`;
  await page.click(`${row} button.select`);
  const result = `${row} td.results div`;

  // the gateway down for every try: no result, which is not a decline (it may have charged)
  gw.failNext.charge = 1000;
  await pay(alice, call.sid, caller, APPROVED_CARD);
  expect(await shows(page, result, 'charger: no result: gave up after 5 tries, HTTP 503')).toBe('err');
  expect(await page.textContent('#results')).toBe('charger: no result: gave up after 5 tries, HTTP 503');
  gw.failNext.charge = 0;

  // another card: the issuer declines it, and says why with the card number, which the agent never sees
  await pay(alice, call.sid, caller, DECLINED_CARD);
  expect(await shows(page, result, 'charger: declined (card_declined)')).toBe('err');
  expect(await page.textContent('#results')).toBe('charger: declined (card_declined)');

  // a re-read of the calls asked before the result and answered after it (held here) holds the
  // decline still: it must not take the approval off the screen
  await page.evaluate((sel) => {
    const w = window as unknown as { shown: (string | null)[] };
    w.shown = [];
    new MutationObserver(() => w.shown.push(document.querySelector(sel)?.textContent ?? null)).observe(document.getElementById('calls')!, {
      childList: true,
      subtree: true,
    });
  }, result);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await pay(alice, call.sid, caller, APPROVED_CARD, async () => {
    // the card's capture.completed re-read is in: no re-read of the panel's own is under way
    await page.waitForFunction((sel) => /card: \*{12}1111 visa/.test(document.querySelector(sel)?.textContent ?? ''), `${row} td:nth-child(4)`);
    let answered!: () => void;
    const asked = new Promise<void>((r) => (answered = r));
    await page.route(
      '**/v1/calls',
      async (route) => {
        const stale = await route.fetch();
        answered();
        await held;
        await route.fulfill({ response: stale });
      },
      { times: 1 },
    );
    await page.click('#refresh');
    await asked;
  });
  expect(await shows(page, result, APPROVED)).toBe('ok');
  const before = await page.evaluate(() => (window as unknown as { shown: string[] }).shown.length);
  release();
  await page.waitForFunction((n) => (window as unknown as { shown: string[] }).shown.length > n, before);
  // from the approval on, every table the panel drew said it, the held answer's too
  const shown = await page.evaluate(() => (window as unknown as { shown: string[] }).shown);
  expect([...new Set(shown.slice(shown.indexOf(APPROVED)))]).toEqual([APPROVED]);
  expect(await page.textContent('#results')).toBe(APPROVED);
  expect(await page.evaluate((s) => document.querySelectorAll(s).length, result)).toBe(1);

  // a reload reads it from the call's view
  await page.reload();
  await signIn(page, alice);
  expect(await shows(page, result, APPROVED)).toBe('ok');
  await page.click(`${row} button.select`);
  expect(await shows(page, '#results div', APPROVED)).toBe('ok');

  // what a processor answered is its text, never markup
  const hostile = '<img src=x onerror="window.pwned=1">';
  await h.app.services.events.publish({
    type: 'processor.result',
    callSid: call.sid,
    processor: 'charger',
    ok: true,
    status: 200,
    attempts: 1,
    result: { status: 'approved', reference: hostile },
  });
  expect(await shows(page, result, `charger: approved, ref ${hostile}`)).toBe('');
  expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
  expect(await page.evaluate(() => document.querySelectorAll('body img').length)).toBe(0);

  const text = await page.evaluate(() => document.documentElement.outerHTML + '\n' + document.body.innerText);
  expect(text).not.toMatch(new RegExp(`${APPROVED_CARD}|${DECLINED_CARD}|declined by the issuer`));

  await page.click('#signout');
  expect(await page.evaluate(() => document.querySelectorAll('td.results div, #results div').length)).toBe(0);
  expect(await page.evaluate(() => document.body.innerText)).not.toContain('charger:');
  expect(problems).toEqual([]);
  await call.hangup();
  await page.close();
});
