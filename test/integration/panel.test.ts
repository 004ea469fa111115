/**
 * The agent panel in headless Chromium (Debian's chromium via playwright-core) against the real
 * service and the emulator: sign in with a pasted token, see the offer, accept it, start a card
 * capture, watch masked progress and the result. The page must only ever hold masked values.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { pageWithSockets as socketsPage, panelSuite } from '../support/browser';
import { waitFor } from '../support/harness';
import { AgentSocket, agentSide, api, keyed, OFFER_NUMBER, placeCall, token } from '../support/agents';

const ARTIFACTS = path.join(__dirname, '../artifacts');

const panel = panelSuite();

async function pageText(page: Page): Promise<string> {
  return page.evaluate(() => document.documentElement.outerHTML + '\n' + document.body.innerText);
}

it('signs in, accepts an offer, runs a capture and shows only masked values', async () => {
  const page = await panel.browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  const res = await page.goto(`${panel.h.url}/agent`);
  expect(res?.status()).toBe(200);
  expect(res?.headers()['content-security-policy']).toMatch(/default-src 'none'/);

  // a refused token says so
  await page.fill('#token', 'not-a-token');
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'token refused: not a valid token');

  await page.fill('#token', token(panel.h, 'alice'));
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'signed in');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');

  const { call, caller } = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  const row = `tr[data-call="${call.sid}"]`;
  await page.waitForSelector(`${row} button.accept`, { timeout: 10_000 });
  expect(await page.textContent(`${row} td.masked`)).toBe('+*******4567');
  await page.click(`${row} button.accept`);
  const { agentCall } = await agentSide(panel.h, call.sid);
  await page.waitForFunction((sel) => document.querySelector(`${sel} td.state`)?.textContent === 'bridged', row, { timeout: 10_000 });

  await page.fill('#capture-name', 'card');
  await page.selectOption('#capture-kind', 'card-number');
  await page.check('#capture-blanket');
  await page.click('#capture-start');
  await page.waitForFunction(() => document.getElementById('capture-status')?.textContent === 'capturing');
  // the agent's call is what records a bridge: paused before the first key
  await waitFor(() => panel.h.emulator.timelineFor(agentCall.sid).some((e) => e.type === 'recording' && e.status === 'paused'), 'recording paused');

  const seen = new Set<string>();
  const watch = setInterval(() => {
    void page
      .textContent('#capture-masked')
      .then((t) => t && seen.add(t))
      .catch(() => undefined);
  }, 10);
  await caller.sendAudio(keyed('4111111111111111#'));
  await page.waitForFunction(() => document.getElementById('capture-status')?.textContent === 'completed', undefined, { timeout: 10_000 });
  clearInterval(watch);

  expect(await page.textContent('#capture-masked')).toBe('************1111');
  expect(await page.textContent('#capture-brand')).toBe('visa');
  expect(await page.textContent('#capture-valid')).toBe('valid');
  expect(await page.textContent('#capture-entered')).toBe('16');
  for (const t of seen) expect(t).toMatch(/^(\**|\*{12}1111)$/);
  await page.waitForFunction((sel) => /card: \*{12}1111 visa/.test(document.querySelector(sel)?.textContent ?? ''), row);

  const text = await pageText(page);
  expect(text).not.toMatch(/4111111|411111111111|5551234567/);
  expect(text).toContain('************1111');
  // the token was cleared from the input once used
  expect(await page.inputValue('#token')).toBe('');

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'panel.png'), fullPage: true });
  expect(problems.filter((p) => !/401|Unauthorized/.test(p))).toEqual([]);
  await call.hangup();
  await page.close();
});

it('shows a hostile string as text, never as markup', async () => {
  const page = await panel.browser.newPage();
  await page.goto(`${panel.h.url}/agent`);
  await page.fill('#token', token(panel.h, 'sue', 'supervisor'));
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  await page.waitForTimeout(100);
  const hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';
  // a masked form is held to '*' and 4 digits by the bus; a reason is free text, so it carries the markup
  await panel.h.app.services.events.publish({
    type: 'capture.failed',
    callSid: 'CA' + 'd'.repeat(32),
    captureId: 'cap_x',
    name: 'card',
    kind: 'card-number',
    entered: 0,
    masked: '',
    reason: hostile,
  });
  await page.waitForFunction(() => (document.getElementById('log')?.textContent ?? '').includes('capture.failed'));
  expect(await page.textContent('#log')).toContain(hostile);
  expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
  expect(await page.evaluate(() => document.querySelectorAll('body img, body script:not(:last-of-type)').length)).toBe(0);
  await page.close();
});

it('reconnects after the service closes its socket, and goes on showing events', async () => {
  // the page's sockets, so the test can make one break the service's message rate (agents/socket-limits.ts)
  const page = await pageWithSockets();
  await page.goto(`${panel.h.url}/agent`);
  await page.fill('#token', token(panel.h, 'rita', 'supervisor'));
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  await page.evaluate(() => {
    const [ws] = (window as unknown as { opened: WebSocket[] }).opened;
    for (let i = 0; i < 200; i++) ws.send('{}');
  });
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'reconnected');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  expect(await page.evaluate(() => (window as unknown as { opened: WebSocket[] }).opened.length)).toBe(2);
  const callSid = 'CA' + 'e'.repeat(32);
  // the new socket is authenticated once the service answers its messages
  await waitFor(async () => {
    await panel.h.app.services.events.publish({ type: 'call.ended', callSid, status: 'completed' });
    return (await page.textContent('#log'))?.includes(`call.ended ${callSid}`);
  }, 'an event on the new socket');
  await page.close();
});

it('drops an offer another agent took, and one whose caller hung up, on their events', async () => {
  const page = await panel.browser.newPage();
  await page.goto(`${panel.h.url}/agent`);
  await page.fill('#token', token(panel.h, 'bob'));
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  const logged = (line: string) => page.waitForFunction((l) => (document.getElementById('log')?.textContent ?? '').includes(l), line, { timeout: 10_000 });
  const rows = (sid: string) => page.evaluate((s) => document.querySelectorAll(`tr[data-call="${s}"]`).length, sid);

  const taken = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  await page.waitForSelector(`tr[data-call="${taken.call.sid}"] button.accept`, { timeout: 10_000 });
  expect((await api(panel.h, 'POST', `/v1/calls/${taken.call.sid}/accept`, token(panel.h, 'alice'))).status).toBe(200);
  // gone as the event is handled, not at the panel's next read of the list
  await logged(`handoff.taken ${taken.call.sid}`);
  expect(await rows(taken.call.sid)).toBe(0);
  await agentSide(panel.h, taken.call.sid);
  await taken.call.hangup();

  const untaken = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  await page.waitForSelector(`tr[data-call="${untaken.call.sid}"] button.accept`, { timeout: 10_000 });
  await untaken.call.hangup();
  await logged(`call.ended ${untaken.call.sid}`);
  await page.waitForFunction((s) => !document.querySelector(`tr[data-call="${s}"]`), untaken.call.sid, { timeout: 2_000 });
  await page.close();
});

it('stops and says so when the service refuses a socket for too many of this agent (4429)', async () => {
  // the agent holds their share of sockets already (AGENT_SOCKETS_PER_AGENT, 8)
  const held = await Promise.all(Array.from({ length: 8 }, () => AgentSocket.open(panel.h, token(panel.h, 'zed'))));
  const page = await pageWithSockets();
  await page.goto(`${panel.h.url}/agent`);
  await page.fill('#token', token(panel.h, 'zed'));
  await page.click('#signin');
  await page.waitForFunction(() => /too many panels open/.test(document.getElementById('status')?.textContent ?? ''));
  // past the first reconnect's 1 s and the second's 2 s: no other socket was opened
  await page.waitForTimeout(3_500);
  expect(await page.evaluate(() => (window as unknown as { opened: WebSocket[] }).opened.length)).toBe(1);
  expect(await page.textContent('#connection')).toBe('offline');
  expect(await page.textContent('#status')).toMatch(/too many panels open/);
  for (const s of held) s.close();
  await page.close();
});

it('runs an agent-assisted payment: asks for each field, shows its masked status, completes', async () => {
  const page = await panel.browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${panel.h.url}/agent`);
  await page.fill('#token', token(panel.h, 'alice'));
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  const { call, caller } = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  const row = `tr[data-call="${call.sid}"]`;
  await page.waitForSelector(`${row} button.accept`, { timeout: 10_000 });
  await page.click(`${row} button.accept`);
  await agentSide(panel.h, call.sid);
  await page.waitForFunction((sel) => document.querySelector(`${sel} td.state`)?.textContent === 'bridged', row, { timeout: 10_000 });

  await page.click('#payment-start');
  await page.waitForSelector('tr[data-field="card"] button.ask');
  expect(await page.isDisabled('#payment-complete')).toBe(true);
  const status = (field: string) => page.textContent(`tr[data-field="${field}"] td.field-status`);
  // a card that fails its check says why in words, and is asked again below
  await page.click('tr[data-field="card"] button.ask');
  await page.waitForFunction(() => document.querySelector('tr[data-field="card"] td.field-status')?.textContent === 'capturing');
  await waitFor(() => panel.h.app.services.calls.get(call.sid).then((s) => s?.agentRecording?.status === 'paused'), 'recording paused');
  await caller.sendAudio(keyed('4111111111111112#'));
  await page.waitForFunction(() => document.querySelector('tr[data-field="card"] td.field-status')?.textContent === 'invalid', undefined, { timeout: 10_000 });
  expect(await page.textContent('tr[data-field="card"] td.masked')).toBe('**************** (not a valid card number)');
  await waitFor(() => panel.h.app.services.calls.get(call.sid).then((s) => s?.agentRecording?.status === 'in-progress'), 'recording resumed');
  for (const [field, keys] of [
    ['card', '4111111111111111#'],
    ['expiry', '1230'],
    ['cvv', '123'],
  ] as const) {
    await page.click(`tr[data-field="${field}"] button.ask`);
    await page.waitForFunction((f) => document.querySelector(`tr[data-field="${f}"] td.field-status`)?.textContent === 'capturing', field);
    await waitFor(() => panel.h.app.services.calls.get(call.sid).then((s) => s?.agentRecording?.status === 'paused'), 'recording paused');
    await caller.sendAudio(keyed(keys));
    await page.waitForFunction((f) => document.querySelector(`tr[data-field="${f}"] td.field-status`)?.textContent === 'valid', field, { timeout: 10_000 });
  }
  expect(await status('card')).toBe('valid');
  expect(await page.textContent('tr[data-field="card"] td.masked')).toBe('************1111 visa');
  await page.waitForFunction(() => !(document.getElementById('payment-complete') as HTMLButtonElement).disabled);
  await page.click('#payment-complete');
  await page.waitForFunction(() => (document.getElementById('payment-status')?.textContent ?? '').startsWith('completed'));
  const text = await pageText(page);
  expect(text).not.toMatch(/4111111|1230|5551234567/);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'panel-payment.png'), fullPage: true });
  expect(problems).toEqual([]);
  await call.hangup();
  await page.close();
});

/** a new page whose sockets the test can reach (`window.opened`): to drop one, or break the service's message rate */
const pageWithSockets = () => socketsPage(panel.browser);

/** a page signed in with `tok`, its socket live */
async function signedIn(tok: string): Promise<Page> {
  // the page's sockets, so a test can drop one
  const page = await pageWithSockets();
  await page.goto(`${panel.h.url}/agent`);
  await page.fill('#token', tok);
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  return page;
}

const captureStatus = (page: Page, expected: string | RegExp) =>
  page.waitForFunction(
    ({ exact, pattern }) => {
      const t = document.getElementById('capture-status')?.textContent ?? '';
      return exact !== undefined ? t === exact : new RegExp(pattern!).test(t);
    },
    typeof expected === 'string' ? { exact: expected } : { pattern: expected.source },
    { timeout: 10_000 },
  );

it('names the field being captured, holds Start while it runs, and says in words why one failed or never started', async () => {
  const page = await signedIn(token(panel.h, 'alice'));
  const { call, caller } = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  const row = `tr[data-call="${call.sid}"]`;
  await page.click(`${row} button.accept`);
  await agentSide(panel.h, call.sid);
  await page.waitForFunction((sel) => document.querySelector(`${sel} td.state`)?.textContent === 'bridged', row, { timeout: 10_000 });
  const paused = () => waitFor(() => panel.h.app.services.calls.get(call.sid).then((s) => s?.agentRecording?.status === 'paused'), 'recording paused');
  const resumed = () => waitFor(() => panel.h.app.services.calls.get(call.sid).then((s) => s?.agentRecording?.status === 'in-progress'), 'recording resumed');

  // what the caller is to key, where the kind has an order of its own
  expect(await page.$eval('#capture-kind option[value="date"]', (o) => o.textContent)).toBe('date (DDMMYYYY)');
  expect(await page.$eval('#capture-kind option[value="expiry"]', (o) => o.textContent)).toBe('expiry (MMYY)');
  // a card that fails its check: which field, and why in words, not the validator's code
  await page.fill('#capture-name', 'card');
  await page.selectOption('#capture-kind', 'card-number');
  await page.click('#capture-start');
  await captureStatus(page, 'capturing');
  expect(await page.textContent('#capture-field')).toBe('card (card-number)');
  // the call is named as in its row, the whole SID at hand for support
  const shortSid = call.sid.slice(0, 10) + '…';
  expect(await page.textContent(`${row} td:first-child`)).toBe(shortSid);
  expect(await page.textContent('#selected')).toBe(shortSid);
  expect(await page.getAttribute('#selected', 'title')).toBe(call.sid);
  expect(await page.getAttribute(`${row} td:first-child`, 'title')).toBe(call.sid);
  // a second start while one runs would only be refused, a capture's or a payment's
  expect(await page.isDisabled('#capture-start')).toBe(true);
  expect(await page.isDisabled('#payment-start')).toBe(true);
  await paused();
  await caller.sendAudio(keyed('4111111111111112#'));
  await captureStatus(page, 'failed: not a valid card number');
  expect(await page.textContent('#capture-masked')).toBe('****************');
  expect(await page.isDisabled('#capture-start')).toBe(false);
  expect(await page.isDisabled('#payment-start')).toBe(false);

  // a start refused (the recording would not pause) replaces that result instead of leaving it on show
  await resumed();
  panel.h.emulator.faults.recordingPause = { status: 500 };
  try {
    await page.click('#capture-start');
    await captureStatus(page, 'not started: the recording could not be paused: try again');
  } finally {
    panel.h.emulator.faults.recordingPause = undefined;
  }
  // it keyed nothing: no count at all, not 'entered 0'
  expect(await page.textContent('#capture-entered')).toBe('');
  expect(await page.textContent('#capture-masked')).toBe('');
  expect(await page.textContent('#capture-valid')).toBe('');
  expect(await page.textContent('#status')).toBe('the recording could not be paused: try again');

  // a cancel says so once
  await page.click('#capture-start');
  await captureStatus(page, 'capturing');
  // the earlier refusal no longer stands in the header
  expect(await page.textContent('#status')).toBe('');
  await page.click('#capture-cancel');
  await captureStatus(page, 'cancelled');

  // a start whose answer is lost with the socket: on reconnecting, the panel reads what the call runs
  const starting = await page.evaluate(() => {
    (document.getElementById('capture-start') as HTMLButtonElement).click();
    (window as unknown as { opened: WebSocket[] }).opened[0].close();
    return {
      entered: document.getElementById('capture-entered')?.textContent,
      paymentStart: (document.getElementById('payment-start') as HTMLButtonElement).disabled,
    };
  });
  // being started, it has keyed nothing yet, and holds Start payment already
  expect(starting).toEqual({ entered: '', paymentStart: true });
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'reconnected', undefined, { timeout: 5_000 });
  await captureStatus(page, 'capturing');
  expect(await page.textContent('#capture-field')).toBe('card (card-number)');
  expect(await page.isDisabled('#capture-cancel')).toBe(false);
  await page.click('#capture-cancel');
  await captureStatus(page, 'cancelled');

  // a capture started elsewhere (the REST API here, or a supervisor's panel) holds both starts too, in
  // this panel and in one that only reads it from the call's view (opened after it started): the service would refuse them (409)
  await resumed();
  const held = () => page.evaluate(() => ['capture-start', 'payment-start'].map((id) => (document.getElementById(id) as HTMLButtonElement).disabled));
  const started = await api(panel.h, 'POST', `/v1/calls/${call.sid}/captures`, token(panel.h, 'alice'), { name: 'pin', kind: 'digits' });
  expect(started.status).toBe(201);
  await captureStatus(page, 'capturing');
  expect(await held()).toEqual([true, true]);
  const late = await signedIn(token(panel.h, 'sue', 'supervisor'));
  await late.click(`${row} button.select`);
  expect(await late.evaluate(() => ['capture-start', 'payment-start'].map((id) => (document.getElementById(id) as HTMLButtonElement).disabled))).toEqual([
    true,
    true,
  ]);
  await captureStatus(late, 'capturing');
  expect(await late.textContent('#capture-field')).toBe('pin (digits)');
  // its progress, masked, as it comes
  await paused();
  await caller.sendAudio(keyed('12'));
  await late.waitForFunction(() => document.getElementById('capture-masked')?.textContent === '**', undefined, { timeout: 10_000 });
  await caller.sendAudio(keyed('#'));
  await captureStatus(late, 'completed');
  await captureStatus(page, 'completed');
  expect(await held()).toEqual([false, false]);
  expect(await late.evaluate(() => ['capture-start', 'payment-start'].map((id) => (document.getElementById(id) as HTMLButtonElement).disabled))).toEqual([
    false,
    false,
  ]);
  await late.close();

  // the call over: it stays while selected, to read its result, and leaves once another is selected
  await call.hangup();
  await page.waitForFunction((sel) => document.querySelector(`${sel} td.state`)?.textContent === 'ended', row, { timeout: 10_000 });
  const next = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  await page.waitForSelector(`tr[data-call="${next.call.sid}"] button.select`, { timeout: 10_000 });
  await page.click(`tr[data-call="${next.call.sid}"] button.select`);
  expect(await page.$(row)).toBeNull();
  // and the capture shown was that call's: the one selected now has none
  expect(await page.textContent('#capture-status')).toBe('');
  expect(await page.textContent('#capture-field')).toBe('');
  await next.call.hangup();
  await page.close();
});

it('signs in with Enter, tells an expired token from a wrong one, and labels what it shows for a screen reader', async () => {
  const page = await pageWithSockets();
  await page.goto(`${panel.h.url}/agent`);
  const statusIs = (t: string) => page.waitForFunction((s) => document.getElementById('status')?.textContent === s, t, { timeout: 5_000 });
  // the header's words are readable on its dark blue (WCAG AA: 4.5:1), good news and bad
  const contrast = () =>
    page.evaluate(() => {
      const rgb = (c: string) => (c.match(/\d+/g) ?? []).slice(0, 3).map(Number);
      const lum = (c: string) => {
        const [r, g, b] = rgb(c).map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const fg = lum(getComputedStyle(document.getElementById('status')!).color);
      const bg = lum(getComputedStyle(document.querySelector('header')!).backgroundColor);
      return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    });
  expect(await page.getAttribute('#token', 'aria-label')).toBe('agent token');
  expect(await page.getAttribute('#status', 'role')).toBe('status');

  // beyond the service's 30 s of tolerance for the issuer's clock
  await page.fill('#token', panel.h.app.services.auth.sign({ sub: 'carol', endpoint: 'client:carol', role: 'agent' }, -120));
  await page.press('#token', 'Enter');
  await statusIs('token refused: it has expired, paste a new one');
  await page.fill('#token', 'not-a-token');
  await page.press('#token', 'Enter');
  await statusIs('token refused: not a valid token');
  expect(await contrast()).toBeGreaterThanOrEqual(4.5);
  // one that expires as the panel signs in (inside the service's tolerance for REST): its socket is
  // closed at once (4401), and the panel says why
  await page.fill('#token', panel.h.app.services.auth.sign({ sub: 'carol', endpoint: 'client:carol', role: 'agent' }, -20));
  await page.press('#token', 'Enter');
  await statusIs('signed out: your token expired, paste a new one');
  await page.fill('#token', token(panel.h, 'carol'));
  await page.press('#token', 'Enter');
  await statusIs('signed in');
  expect(await contrast()).toBeGreaterThanOrEqual(4.5);
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');

  // each row's buttons say which call they act on
  const { call } = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  const accept = `tr[data-call="${call.sid}"] button.accept`;
  await page.waitForSelector(accept, { timeout: 10_000 });
  expect(await page.getAttribute(accept, 'aria-label')).toBe('Accept call from +*******4567 (offered)');
  expect(await page.getAttribute(`tr[data-call="${call.sid}"] button.select`, 'aria-label')).toBe('Select call from +*******4567 (offered)');
  // the selected call's row is marked, for the eye and for a screen reader
  await page.click(`tr[data-call="${call.sid}"] button.select`);
  expect(await page.getAttribute(`tr[data-call="${call.sid}"]`, 'aria-current')).toBe('true');

  // a click while the socket is down says it went nowhere
  await page.evaluate(() => (window as unknown as { opened: WebSocket[] }).opened[1].close());
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'offline');
  await page.click(accept);
  await statusIs('not connected: wait for the panel to reconnect, then try again');
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live', undefined, { timeout: 5_000 });

  // the keyboard's place survives the table being rebuilt (here as another offer comes in)
  await page.focus(accept);
  await page.evaluate((sel) => ((window as unknown as { oldRow: Element | null }).oldRow = document.querySelector(sel)), accept);
  const other = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  await page.waitForSelector(`tr[data-call="${other.call.sid}"]`, { timeout: 10_000 });
  await page.waitForFunction((sel) => document.querySelector(sel) !== (window as unknown as { oldRow: Element | null }).oldRow, accept, { timeout: 5_000 });
  expect(await page.evaluate((sel) => document.activeElement === document.querySelector(sel), accept)).toBe(true);
  await other.call.hangup();

  // signing in again replaces the socket: one open, not two showing every event twice
  await page.fill('#token', token(panel.h, 'carol'));
  await page.press('#token', 'Enter');
  await page.waitForFunction(() => (window as unknown as { opened: WebSocket[] }).opened.length === 4, undefined, { timeout: 5_000 });
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
  await page.waitForFunction(
    () => (window as unknown as { opened: WebSocket[] }).opened.filter((w) => w.readyState !== WebSocket.CLOSED).length === 1,
    undefined,
    {
      timeout: 5_000,
    },
  );
  await call.hangup();
  await page.close();
});

it("says in words why a supervisor's token with no endpoint cannot take a call", async () => {
  const page = await signedIn(panel.h.app.services.auth.sign({ sub: 'sam', role: 'supervisor' }));
  const { call } = await placeCall(panel.h, OFFER_NUMBER, 'offered');
  await page.waitForSelector(`tr[data-call="${call.sid}"] button.accept`, { timeout: 10_000 });
  // once clicked, the offer is being accepted, not offered for a second click
  const shown = await page.evaluate((sid) => {
    (document.querySelector(`tr[data-call="${sid}"] button.accept`) as HTMLButtonElement).click();
    return {
      state: document.querySelector(`tr[data-call="${sid}"] td.state`)?.textContent,
      accept: !!document.querySelector(`tr[data-call="${sid}"] button.accept`),
    };
  }, call.sid);
  expect(shown).toEqual({ state: 'accepting', accept: false });
  // not the service's 'the token names no endpoint to dial'
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'your token names no phone to ring: it cannot take calls', undefined, {
    timeout: 5_000,
  });
  // refused, it is on offer again at once (not at the panel's next 5 s re-read)
  await page.waitForSelector(`tr[data-call="${call.sid}"] button.accept`, { timeout: 2_000 });
  await call.hangup();
  await page.close();
});
