/**
 * What the drop-in capture tests share (issue 13): the card flow the shop redirects its callers
 * to, tonewall's drop-in settings (the shop's return URL allowed, the result secret, the shop's
 * gateway taking the card's fields), the service and the shop started together, and how the shop
 * reads a result and a call's words.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CARD_STEPS, writeFlows } from './card-flows';
import type { EmulatedCall, GatherRequest } from '../../tools/emulator';
import { RESULT_SIGNATURE_PARAM, verifyCaptureResult } from '../../src/dropin/result-signature';
import { ACCOUNT_SID, freePort, startHarness, type Harness, type HarnessOptions } from './harness';
import { ShopApp, type Returned } from './shop-app';

export const RESULT_SECRET = 'capture-result-secret-0123456789abcdef';
export const CARD = '4111111111111111';
export const CALLER = '+15551239876';
/** the shop's own number: its app answers, tonewall's flows claim none of it */
export const SHOP_NUMBER = '+15005550150';
/** a request Twilio sends for a call from CALLER to the shop, in progress, and `extra` (a <Gather> action's Digits and FinishedOnKey) */
export function shopCallParams(callSid: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CallSid: callSid, AccountSid: ACCOUNT_SID, From: CALLER, To: SHOP_NUMBER, CallStatus: 'in-progress', Direction: 'inbound', ...extra };
}
/** `card-capture`, the flow the shop redirects its callers to, asking for these fields */
export function cardCaptureFlow(fields: (keyof typeof CARD_STEPS)[] = ['card', 'expiry', 'cvv']): string {
  return `id: card-capture\nnumbers: ["+15005550151"]\nsteps:\n${fields.map((f) => CARD_STEPS[f]).join('')}`;
}

/** `other-capture`, a second capture flow (an account number), beside card-capture */
export const OTHER_CAPTURE_FLOW = `
id: other-capture
numbers: ["+15005550152"]
steps:
  - collect: account
    kind: digits
    prompt: "Key in your account number."
`;

/** tonewall's drop-in settings for a shop at `shopUrl`: its /paid allowed as a return URL */
export function dropinEnv(shopUrl: string): Record<string, string> {
  return { CAPTURE_RETURN_URLS: `${shopUrl}/paid`, CAPTURE_RESULT_SECRET: RESULT_SECRET };
}

/** the service and the shop it serves, started together (see startDropinShop) */
export interface DropinShop {
  h: Harness;
  shop: ShopApp;
  flowsDir: string;
  /** the service's environment: what a second instance of it needs */
  env: Record<string, string>;
  /** a call to the shop's number, its keys from `onGather` */
  call(onGather: (g: GatherRequest) => string | null | Promise<string | null>): Promise<EmulatedCall>;
  close(): Promise<void>;
}

/**
 * The shop (test/support/shop-app.ts) and a tonewall serving it: these flows, the shop's return
 * URL allowed, its gateway at the shop's /charge taking card, expiry and cvv, hang-up polls every
 * 100 ms. `harness` adds to the harness's options (its env and build options merged).
 */
export async function startDropinShop(flows: Record<string, string>, harness: HarnessOptions = {}): Promise<DropinShop> {
  const flowsDir = writeFlows(flows);
  const processorsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-dropin-processors-'));
  const processorsFile = path.join(processorsDir, 'processors.yaml');
  // the shop's origin goes on tonewall's allow-list, so its port is chosen first
  const shopPort = await freePort();
  const shopUrl = `http://127.0.0.1:${shopPort}`;
  fs.writeFileSync(
    processorsFile,
    `processors:\n  - name: gateway\n    url: ${shopUrl}/charge\n    secretEnv: GATEWAY_SECRET\n    fields: [card, expiry, cvv]\n`,
  );
  const env = { ...dropinEnv(shopUrl), PROCESSORS_FILE: processorsFile, GATEWAY_SECRET: 'gateway-secret-0123456789abcdefghij', ...harness.env };
  const h = await startHarness({ flowsDir, ...harness, env, build: { dropinPollMs: 100, ...harness.build } });
  const shop = new ShopApp(h.publicUrl, h.emulator.baseUrl, shopPort, CARD);
  await shop.start();
  return {
    h,
    shop,
    flowsDir,
    env,
    call: (onGather) => h.emulator.placeCall({ from: CALLER, to: SHOP_NUMBER, voiceUrl: `${shop.url}/voice`, onGather }),
    close: async () => {
      await h.close();
      await shop.app.close();
      for (const dir of [flowsDir, processorsDir]) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** what a call's caller heard said (a Gather's prompts are Says of their own in the transcript) */
export function says(c: EmulatedCall): string[] {
  return c.transcript.flatMap((t) => (t.verb === 'Say' ? [t.text] : []));
}

/** the result as the app reads it from its return URL: every query parameter but the signature, checked */
export function verified(r: Returned): Record<string, string> {
  const { [RESULT_SIGNATURE_PARAM]: sig, ...params } = r.query;
  expect(verifyCaptureResult(params, sig, RESULT_SECRET)).toBe(true);
  return params;
}

/** a call to the shop that keys the card, then hangs up at the prompt that says `words`: a caller-hung-up capture */
export async function hangUpAt(d: DropinShop, words: string): Promise<EmulatedCall> {
  let c: EmulatedCall | undefined = undefined;
  c = await d.call(async (g) => {
    if (g.prompt.join(' ').includes(words)) {
      void c!.hangup();
      return null;
    }
    return `${CARD}#`;
  });
  return c;
}
