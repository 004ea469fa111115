/**
 * Flow files that parse but could never run as written stop the service at start, naming the
 * file, the path and the reason (CONTRACT §3), rather than failing a caller on a live call.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildApp } from '../../src/app';
import { flowsDirConfig } from '../support/harness';

/** buildApp on a flows folder holding `yaml` alone, as bad.yaml: its refusal, or none */
async function startWith(yaml: string): Promise<{ file: string; refused: Promise<unknown> }> {
  const dir = mkdtempSync('/tmp/tw-flow-files-');
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, yaml);
  const config = flowsDirConfig(dir);
  const refused = buildApp(config).then(
    async (app) => {
      await app.close();
      return 'started';
    },
    (err: Error) => err.message,
  );
  void refused.finally(() => rmSync(dir, { recursive: true, force: true }));
  return { file, refused };
}

describe('flow files that load but cannot run', () => {
  test('a bridge to a queue: Twilio places no call to a queue, so the caller would hold until the timeout', async () => {
    const { file, refused } = await startWith('id: q\nnumbers: ["+15005550199"]\nhandoff:\n  mode: bridge\n  to: "queue:support"\n');
    expect(await refused).toBe(
      `flow file ${file} is invalid at handoff.to: a bridge calls its agent: client:NAME, sip:URI or an E.164 number; queue:NAME is for mode dial`,
    );
  });
});

describe('collect steps no entry could satisfy', () => {
  test('a digits step with a minLength over the kind longest and no maxLength', async () => {
    const { file, refused } = await startWith(
      'id: d\nnumbers: ["+15005550198"]\nsteps:\n  - collect: ref\n    kind: digits\n    minLength: 40\n    prompt: "Reference."\n',
    );
    expect(await refused).toBe(
      `flow file ${file} is invalid at steps.0.minLength: minLength 40 leaves no valid entry: kind digits without maxLength takes at most 32 digits; set maxLength too`,
    );
  });

  test('a postal-code step with a maxLength under the kind shortest and no minLength', async () => {
    const { file, refused } = await startWith(
      'id: p\nnumbers: ["+15005550197"]\nsteps:\n  - collect: zip\n    kind: postal-code\n    maxLength: 2\n    prompt: "Postal code."\n',
    );
    expect(await refused).toBe(
      `flow file ${file} is invalid at steps.0.maxLength: maxLength 2 leaves no valid entry: kind postal-code without minLength takes at least 3 digits; set minLength too`,
    );
  });
});

describe('a card asked with the recording running', () => {
  for (const kind of ['card-number', 'security-code']) {
    test(`a ${kind} step with sensitive: false`, async () => {
      const { file, refused } = await startWith(
        `id: c\nnumbers: ["+15005550196"]\nrecord: true\nsteps:\n  - collect: card\n    kind: ${kind}\n    sensitive: false\n    prompt: "Card."\n`,
      );
      expect(await refused).toBe(
        `flow file ${file} is invalid at steps.0.sensitive: kind ${kind} is always sensitive: it is never asked while the call is recorded`,
      );
    });
  }
});

describe('a length bound the kind ignores', () => {
  test('a card-number step with maxLength: the card is taken by its brand length, not the bound', async () => {
    const { file, refused } = await startWith(
      'id: l\nnumbers: ["+15005550195"]\nsteps:\n  - collect: card\n    kind: card-number\n    maxLength: 16\n    prompt: "Card."\n',
    );
    expect(await refused).toBe(
      `flow file ${file} is invalid at steps.0.maxLength: maxLength applies to kinds digits and postal-code; kind card-number has a length of its own`,
    );
  });
});
