/**
 * The TwiML Twilio would refuse, measured at start: a flow that could produce a webhook document
 * over 64 kB (error 11750: the caller hears Twilio's application error) is refused as it is
 * loaded, naming where; a bridge's agent call, whose TwiML goes inline on a call create (at most
 * 4000 characters: 32018), is measured with the service's own origins and refused at start when
 * they are too long for it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../../../src/app';
import { loadConfig } from '../../../src/config';
import { loadFlows, parseFlow } from '../../../src/flows/load';
import { INLINE_TWIML_MAX_CHARS, largestDocument, longestInlineTwiml, TWIML_DOCUMENT_MAX_BYTES } from '../../../src/twilio/document-size';
import { generateKeyRingText } from '../../../src/vault';
import { ACCOUNT_SID, AUTH_TOKEN, JWT_SECRET } from '../../support/harness';

const ORIGINS = { publicUrl: 'https://ivr.example.com', mediaPublicUrl: 'https://ivr.example.com' };
const LONG = 'a'.repeat(4000);

const flow = (steps: string, handoff = 'handoff:\n  mode: dial\n  to: "client:alice"\n') =>
  parseFlow('t.yaml', `id: t\nnumbers: ["+15005550007"]\nrecord: true\nsteps:\n${steps}${handoff}`);
const say = (text: string) => `  - say: "${text}"\n`;
const question = (name: string, prompt: string) => `  - collect: ${name}\n    kind: digits\n    sensitive: false\n    maxLength: 1\n    prompt: "${prompt}"\n`;

test('the sample flows fit, with room to spare', () => {
  const flows = loadFlows(path.join(__dirname, '../../../config/flows')).all();
  expect(flows.length).toBeGreaterThan(0);
  for (const f of flows) {
    const largest = largestDocument(f, ORIGINS);
    expect(largest.bytes).toBeGreaterThan(0);
    expect(largest.bytes).toBeLessThan(TWIML_DOCUMENT_MAX_BYTES / 4);
  }
});

test('words said together before a question count together; a question between them splits the document', () => {
  const words = say(LONG).repeat(17);
  const together = largestDocument(flow(words + question('menu', 'Press 1.')), ORIGINS);
  expect(together.where).toBe('steps.17');
  expect(together.bytes).toBeGreaterThan(17 * 4000);
  // the same words before the handoff: its document
  expect(largestDocument(flow(words), ORIGINS)).toEqual({ bytes: expect.any(Number), where: 'handoff' });
  expect(largestDocument(flow(words), ORIGINS).bytes).toBeGreaterThan(TWIML_DOCUMENT_MAX_BYTES);
  const split = largestDocument(flow(say(LONG).repeat(8) + question('menu', 'Press 1.') + say(LONG).repeat(8) + question('more', 'Press 2.')), ORIGINS);
  expect(split.bytes).toBeLessThan(TWIML_DOCUMENT_MAX_BYTES);
  expect(split.bytes).toBeGreaterThan(8 * 4000);
});

test("a question's prompt entries said together, and text that XML escaping lengthens, count as sent", () => {
  const entries = Array.from({ length: 17 }, () => `      - say: "${LONG}"\n`).join('');
  const many = largestDocument(flow(`  - collect: menu\n    kind: digits\n    sensitive: false\n    maxLength: 1\n    prompt:\n${entries}`), ORIGINS);
  expect(many.where).toBe('steps.0');
  expect(many.bytes).toBeGreaterThan(TWIML_DOCUMENT_MAX_BYTES);
  // 4 steps of 4000 '&' are 16000 characters, 80000 bytes once escaped (&amp;)
  const escaped = largestDocument(flow(say('&'.repeat(4000)).repeat(4)), ORIGINS);
  expect(escaped.bytes).toBeGreaterThan(4 * 4000 * '&amp;'.length);
  // an error said before the prompt on a later attempt: the longest of them is the one measured
  const retry = flow(
    `  - collect: menu\n    kind: digits\n    sensitive: false\n    maxLength: 1\n    attempts: 2\n    prompt:\n      - say: "Press 1."\n      - errorType: timeout\n        say: "${LONG}"\n`,
  );
  expect(largestDocument(retry, ORIGINS).bytes).toBeGreaterThan(4000);
});

test("the agent call's inline TwiML: about 600 characters with ordinary origins; refused at start with origins too long for it", () => {
  expect(longestInlineTwiml(ORIGINS)).toBeLessThan(INLINE_TWIML_MAX_CHARS / 4);
  const long = { publicUrl: `https://ivr.example.com/${'p'.repeat(1200)}`, mediaPublicUrl: `https://ivr.example.com/${'p'.repeat(1200)}` };
  expect(longestInlineTwiml(long)).toBeGreaterThan(INLINE_TWIML_MAX_CHARS);
});

describe('at start', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-size-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const config = (env: Record<string, string> = {}) =>
    loadConfig({
      PUBLIC_URL: ORIGINS.publicUrl,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
      VAULT_KEYS: generateKeyRingText('k1'),
      AGENT_JWT_SECRET: JWT_SECRET,
      FLOWS_DIR: dir,
      PROCESSORS_FILE: path.join(__dirname, '../../fixtures/no-processors.yaml'),
      ...env,
    });

  test('a flow that could produce a document over 64 kB is refused, naming its file and step', async () => {
    fs.writeFileSync(path.join(dir, 'long.yaml'), `id: long\nnumbers: ["+15005550007"]\nsteps:\n${say(LONG).repeat(17)}${question('menu', 'Press 1.')}`);
    await expect(buildApp(config())).rejects.toThrow(
      new RegExp(
        `^flow file ${dir}/long\\.yaml is invalid at steps\\.17: a TwiML document asked here would be \\d+ bytes, over the 65536 Twilio takes \\(error 11750\\)`,
      ),
    );
  });

  test('a bridge flow with origins too long for the agent call is refused, naming PUBLIC_URL', async () => {
    fs.writeFileSync(path.join(dir, 'bridge.yaml'), `id: bridge\nnumbers: ["+15005550007"]\nhandoff:\n  mode: bridge\n`);
    await expect(buildApp(config({ PUBLIC_URL: `https://ivr.example.com/${'p'.repeat(1200)}` }))).rejects.toMatchObject({
      code: 'TW_ERR_CONFIG_INVALID',
      variable: 'PUBLIC_URL',
      message: expect.stringMatching(/agent call's TwiML would be \d+ characters, over the 4000 Twilio takes \(error 32018\)/),
    });
  });
});
