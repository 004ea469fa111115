/**
 * The card fields tests ask for in their own flows, as YAML collect steps, and a folder to put
 * such flows in (FLOWS_DIR).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CARD_PROMPT = 'Key in your card number, then press hash.';
export const EXPIRY_PROMPT = 'Key in the expiry date as four digits.';
export const CVV_PROMPT = 'Key in the security code.';

export const MENU_PROMPT = 'Press 1, then hash.';

/** a one-key menu, not sensitive (heard by the recording): a collect step, lines under a flow's `steps:` */
export const MENU_STEP = `  - collect: menu
    kind: digits
    sensitive: false
    minLength: 1
    maxLength: 1
    prompt: "${MENU_PROMPT}"
`;

/** the tests' card fields as collect steps, lines under a flow's `steps:` */
export const CARD_STEPS = {
  card: collectStep('card', 'card-number', CARD_PROMPT),
  expiry: collectStep('expiry', 'expiry', EXPIRY_PROMPT),
  cvv: collectStep('cvv', 'security-code', CVV_PROMPT),
};

function collectStep(name: string, kind: string, prompt: string): string {
  return `  - collect: ${name}\n    kind: ${kind}\n    prompt: "${prompt}"\n`;
}

/** the last question of a fieldFlow: not sensitive, one key */
export const DONE_PROMPT = 'Press 1 to finish, then hash.';

/**
 * A flow `id` on `number`: the menu (none with `menu: false`: the field comes first), `field` (a
 * collect step's lines, under `steps:`), words, then a last question the caller may take time
 * over (DONE_PROMPT); then dial alice. `record`: the flow records the call.
 */
export function fieldFlow(id: string, number: string, field: string, opts: { record: boolean; menu?: boolean }): string {
  return `id: ${id}
numbers: ["${number}"]
${opts.record ? 'record: true\n' : ''}steps:
${opts.menu === false ? '' : MENU_STEP}${field}  - say: "Thank you."
  - collect: done
    kind: digits
    sensitive: false
    minLength: 1
    maxLength: 1
    prompt: "${DONE_PROMPT}"
handoff:
  mode: dial
  to: "client:alice"
`;
}

/** a temporary folder holding these flows (file name, without .yaml, to YAML); the caller removes it */
export function writeFlows(flows: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-flows-'));
  for (const [name, yaml] of Object.entries(flows)) fs.writeFileSync(path.join(dir, `${name}.yaml`), yaml);
  return dir;
}

/** a flow asking the caller's date of birth, then offering the call to the connected agents (bridge mode) */
export function dobBridgeFlow(id: string, number: string): string {
  return [
    `id: ${id}`,
    `numbers: ["${number}"]`,
    'steps:',
    '  - collect: dob',
    '    kind: date',
    '    prompt: "Key in your date of birth."',
    'handoff:',
    '  mode: bridge',
  ].join('\n');
}
