/**
 * Headless Chromium for the agent panel's tests: Debian's chromium driven by playwright-core
 * (no browser download), and pages that keep a list of the WebSockets they opened.
 */
import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeFlowsDir } from './agents';
import { startHarness, type Harness } from './harness';
import type { BuildOptions } from '../../src/services';

const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** a page whose WebSockets are listed as `window.opened`, so a test can drop one or count them */
export async function pageWithSockets(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    const opened: WebSocket[] = [];
    (window as unknown as { opened: WebSocket[] }).opened = opened;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        opened.push(this);
      }
    };
  });
  return page;
}

/**
 * A panel test file's service on the agent flows (makeFlowsDir) and one Chromium, for the whole
 * file: started before its tests, closed with its flows directory after; both read once it ran.
 * `env`: variables of the file's own for the service (AGENT_IDLE_TIMEOUT_SECONDS); `build`: its
 * build options (a socket limit lowered).
 */
export function panelSuite(opts: { env?: Record<string, string>; build?: Partial<BuildOptions> } = {}): { readonly h: Harness; readonly browser: Browser } {
  const suite = {} as { h: Harness; browser: Browser; flowsDir: string };
  beforeAll(async () => {
    suite.flowsDir = makeFlowsDir();
    suite.h = await startHarness({ flowsDir: suite.flowsDir, env: opts.env, build: opts.build });
    suite.browser = await launchChromium();
  }, 30_000);
  afterAll(async () => {
    await suite.browser?.close();
    await suite.h?.close();
    if (suite.flowsDir) fs.rmSync(suite.flowsDir, { recursive: true, force: true });
  });
  return suite;
}
