/**
 * A misconfigured Twilio REST client never makes a recording pause "succeed" (twilio/rest-check.ts,
 * recording/controller.ts). Twilio's 404 on a recording update (20404) means no recording is
 * active, but the same 404 comes back for every request from a client pointed at the wrong place:
 * a base URL with a path (every request path doubles), a proxy that answers 404, a token Twilio
 * refuses. The service asks Twilio for its own account before it starts: credentials Twilio
 * refuses stop it, naming the setting; any other answer starts it unverified, with what to fix
 * logged. Until verified, and for a bare 404 (no Twilio error JSON) always, a 404 on a pause is
 * "absent" only when a list of the call's recordings, through the same client, shows none
 * active: a misconfigured client cannot list them either. Against the project's Twilio
 * emulator, with a real Redis; the logs are read as written.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { generateKeyRingText } from '../../src/vault';
import { startTwilioEmulator, type EmulatedCall, type GatherRequest, type TwilioEmulator } from '../../tools/emulator';
import { CARD_PROMPT, CARD_STEPS, DONE_PROMPT, MENU_PROMPT, fieldFlow } from '../support/card-flows';
import { ACCOUNT_SID, AUTH_TOKEN, JWT_SECRET, LogCapture, startHarness, waitFor, type Harness } from '../support/harness';

const NUMBER = '+15005550061';
const CARD = '4111111111111111';
const FLOW = fieldFlow('rest-check-card', NUMBER, CARD_STEPS.card, { record: true });

let emulator: TwilioEmulator;
beforeEach(async () => {
  emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
});
afterEach(async () => emulator?.close());

/** a plain HTTP server of the test's own; `answer` handles each request */
async function server(answer: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const s = http.createServer(answer);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  };
}

/** a proxy's own 404: an HTML page, not Twilio's error JSON */
function bare404(res: http.ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body><h1>404 Not Found</h1></body></html>');
}

/** forwards a request to `target` as it came, and its answer back */
async function forward(target: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
  const answer = await fetch(target + req.url, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
  res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
}

function configWith(apiBaseUrl: string, authToken = AUTH_TOKEN) {
  return loadConfig({
    PUBLIC_URL: 'https://ivr.tonewall.test',
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: authToken,
    TWILIO_API_BASE_URL: apiBaseUrl,
    VAULT_KEYS: generateKeyRingText('k1'),
    AGENT_JWT_SECRET: JWT_SECRET,
    FLOWS_DIR: path.join(__dirname, '../../config/flows'),
    PROCESSORS_FILE: path.join(__dirname, '../fixtures/no-processors.yaml'),
    LOG_LEVEL: 'debug',
  });
}

describe('at start: credentials Twilio refuses stop the service, naming the setting', () => {
  test('a token Twilio refuses (401, 20003)', async () => {
    const token = 'wrong-token-0123456789abcdef';
    const logs = new LogCapture();
    const refused = buildApp(configWith(emulator.baseUrl, token), { logStream: logs });
    await expect(refused).rejects.toMatchObject({
      code: 'TW_ERR_CONFIG_INVALID',
      variable: 'TWILIO_AUTH_TOKEN',
      message: expect.stringMatching(/^TWILIO_AUTH_TOKEN/),
    });
    await expect(refused).rejects.toMatchObject({ message: expect.stringMatching(/answered 401, 20003/) });
    const err = (await refused.catch((e: unknown) => e)) as Error;
    // one request, the account's; nothing else asked of Twilio
    expect(emulator.timeline.filter((e) => e.type === 'rest').map((e) => (e.type === 'rest' ? [e.method, e.path] : []))).toEqual([
      ['GET', `/2010-04-01/Accounts/${ACCOUNT_SID}.json`],
    ]);
    for (const secret of [AUTH_TOKEN, token]) {
      expect(err.message).not.toContain(secret);
      expect(logs.text).not.toContain(secret);
    }
  });
});

describe('a harness on one emulator, the card flow recorded', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** a call to the card flow: the menu, the card (if asked) and the last question answered; resolves when it reaches the dial (the handoff, also where a refused pause leads) */
  async function cardCall(): Promise<EmulatedCall> {
    const answers: Record<string, string> = { [MENU_PROMPT]: '1#', [CARD_PROMPT]: `${CARD}#`, [DONE_PROMPT]: '1#' };
    const c = await h!.emulator.placeCall({
      from: '+15550006161',
      to: NUMBER,
      voiceUrl: h!.voiceUrl,
      onGather: (g: GatherRequest) => answers[g.prompt.join(' ')] ?? null,
    });
    await waitFor(() => c.transcript.some((t) => t.verb === 'Dial'), 'the dial', 15_000);
    return c;
  }
  const asked = (c: EmulatedCall) => c.transcript.flatMap((t) => (t.verb === 'Gather' ? [t.prompt.join(' ')] : []));
  const readiness = async () => {
    const res = await fetch(`${h!.url}/readyz`);
    return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
  };

  test.each([
    ['a base URL with the version in it: every path doubles, and Twilio answers 20404', '/2010-04-01', /answered 404, 20404\).*it has a path, \/2010-04-01/],
    ["a proxy answering its own 404 where Twilio's API should be", 'proxy', /answered 404\)/],
  ])(
    '%s: it starts, says what to fix, and asks no card: the pause and the list of the recordings both refused',
    async (_what, base, reason) => {
      const proxy = base === 'proxy' ? await server((_req, res) => bare404(res)) : undefined;
      try {
        h = await startHarness({ emulator, flows: { 'rest-check-card': FLOW }, env: { TWILIO_API_BASE_URL: proxy?.url ?? emulator.baseUrl + base } });
        expect(await readiness()).toEqual({ status: 200, body: expect.objectContaining({ checks: expect.objectContaining({ twilio: 'unverified' }) }) });
        const said = h.logs.lines
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.msg === "Twilio REST configuration not verified: recording pauses answered 404 are checked against the call's recordings list");
        expect(said).toMatchObject({ level: 50, variable: 'TWILIO_API_BASE_URL', reason: expect.stringMatching(reason) });
        const c = await cardCall();
        expect(asked(c)).toEqual([MENU_PROMPT]);
        expect((await h.app.services.calls.get(c.sid))?.fields.card).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
        // the flow's recording ran throughout, and heard no card: none was asked
        expect(emulator.recordingStatuses(c.sid, c.recordings[0].sid)).not.toContain('paused');
        // refused by the list: the stretch's own, before any pause (the recording's SID known: a call whose recordings nobody
        // can see is asked nothing), or the one after a 404 on a pause by Twilio.CURRENT (its SID not known yet)
        expect(h.logs.lines.some((l) => /the call's recordings could not be listed(: sensitive input is refused| after a 404)/.test(l))).toBe(true);
        expect(h.logs.text).not.toContain(AUTH_TOKEN);
        await c.hangup();
      } finally {
        await h?.close();
        h = undefined;
        await proxy?.close();
      }
    },
    40_000,
  );

  test("a REST API that serves calls and recordings but not the account (a test's own emulator): ready, and a 404 for a recording that has ended is absent by the list: the card is asked", async () => {
    emulator.faults.accountFetch = { status: 404 };
    h = await startHarness({ emulator, flows: { 'rest-check-card': FLOW } });
    expect(await readiness()).toEqual({ status: 200, body: expect.objectContaining({ checks: expect.objectContaining({ twilio: 'unverified' }) }) });
    const answers: Record<string, string> = { [CARD_PROMPT]: `${CARD}#`, [DONE_PROMPT]: '1#' };
    const c = await h.emulator.placeCall({
      from: '+15550006161',
      to: NUMBER,
      voiceUrl: h.voiceUrl,
      onGather: (g: GatherRequest) => {
        if (g.prompt.join(' ') !== MENU_PROMPT) return answers[g.prompt.join(' ')] ?? null;
        // the flow's recording ends before the card's pause (Twilio ended it; its callback not yet sent): the pause finds nothing to pause
        for (const call of emulator.calls.values()) for (const r of call.recordings) r.setStatus('stopped');
        return '1#';
      },
    });
    await waitFor(() => c.transcript.some((t) => t.verb === 'Dial'), 'the dial', 15_000);
    expect(asked(c)).toEqual([MENU_PROMPT, CARD_PROMPT, DONE_PROMPT]);
    expect((await h.app.services.calls.get(c.sid))?.fields.card).toMatchObject({ valid: true });
    const pauses = emulator.timeline.filter((e) => e.type === 'rest' && e.method === 'POST' && /\/Recordings\/[^/]+\.json$/.test(e.path));
    expect(pauses.length).toBeGreaterThan(0);
    expect(emulator.timeline.some((e) => e.type === 'rest' && e.method === 'GET' && e.path.endsWith(`/Calls/${c.sid}/Recordings.json`))).toBe(true);
    await c.hangup();
  }, 40_000);

  test("Twilio unreachable at start: ready (the contract's readiness is the store and flows), Twilio's 20404 on a running recording's pause is not taken as 'no recording' (no card asked), verified once Twilio answers", async () => {
    // Twilio's own 503 for the account, until the test lifts it
    emulator.faults.accountFetch = { status: 503 };
    h = await startHarness({ emulator, flows: { 'rest-check-card': FLOW }, build: { restCheckRetryMs: 50 } });
    expect(await readiness()).toEqual({ status: 200, body: expect.objectContaining({ checks: expect.objectContaining({ twilio: 'unverified' }) }) });

    // Twilio's 404 (20404) on the card's pause: before the check, it may be Twilio's answer to a wrong path
    emulator.faults.recordingPause = { status: 404 };
    const refused = await cardCall();
    // the pause refused, the flow goes to its handoff: only the menu was asked
    expect(asked(refused)).toEqual([MENU_PROMPT]);
    expect((await h.app.services.calls.get(refused.sid))?.fields.card).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
    const audit = (await h.app.services.audit.verify(refused.sid)).entries;
    expect(audit.map((e) => [e.type, e.twilioStatus])).toContainEqual(['recording.pause-failed', '404']);
    expect(audit.map((e) => e.type)).not.toContain('recording.paused');
    await refused.hangup();
    delete emulator.faults.recordingPause;

    // the check keeps asking: once Twilio answers, it is verified and cards are asked
    delete emulator.faults.accountFetch;
    await waitFor(async () => (await readiness()).body.checks.twilio === 'verified', 'verified after Twilio answered', 10_000);
    const served = await cardCall();
    expect(asked(served)).toEqual([MENU_PROMPT, CARD_PROMPT, DONE_PROMPT]);
    await served.hangup();

    const checkLines = h.logs.lines.filter((l) => l.includes('Twilio REST configuration'));
    expect(checkLines.some((l) => l.includes('not verified yet'))).toBe(true);
    expect(checkLines.some((l) => l.includes('"Twilio REST configuration verified"'))).toBe(true);
    // the account resource carries the token: nothing of it is logged
    expect(h.logs.text).not.toContain(AUTH_TOKEN);
  }, 40_000);

  test('a proxy that answers the recording updates with its own 404 (verified at start): the pause fails, no card is asked', async () => {
    // everything reaches Twilio but the recording updates, which the proxy answers itself
    const proxy = await server((req, res) => {
      if (req.method === 'POST' && /\/Recordings\/[^/]+\.json$/.test(req.url ?? '')) return bare404(res);
      void forward(emulator.baseUrl, req, res).catch(() => res.destroy());
    });
    try {
      h = await startHarness({ emulator, flows: { 'rest-check-card': FLOW }, env: { TWILIO_API_BASE_URL: proxy.url } });
      expect((await readiness()).status).toBe(200);
      const c = await cardCall();
      expect(asked(c)).toEqual([MENU_PROMPT]);
      expect((await h.app.services.calls.get(c.sid))?.fields.card).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
      // the flow's recording ran throughout: the pause never reached Twilio
      expect(emulator.recordingStatuses(c.sid, c.recordings[0].sid)).not.toContain('paused');
      expect(h.logs.lines.some((l) => l.includes('a 404 not known') && l.includes('"twilioCode":null'))).toBe(true);
      await c.hangup();
    } finally {
      await h?.close();
      h = undefined;
      await proxy.close();
    }
  }, 40_000);
});
