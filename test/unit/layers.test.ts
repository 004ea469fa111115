/**
 * The import layers in eslint.config.mjs hold: each forbidden import below is linted, as if it
 * were written in the file named, with the project's real ESLint config, and must be refused by
 * boundaries/dependencies; the allowed ones must pass. ESLint loads its (ESM) config with a
 * dynamic import that Jest's module sandbox cannot run, so the lint runs in a child Node process.
 */
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');

interface Case {
  file: string;
  source: string;
}

interface Outcome {
  file: string;
  rules: string[];
  messages: string[];
}

/** lints every case in one ESLint instance; returns the rule ids each one broke */
function lint(cases: Case[]): Outcome[] {
  const script = `
    import { ESLint } from 'eslint';
    const cases = JSON.parse(process.argv[1]);
    const eslint = new ESLint({ cwd: process.cwd() });
    const out = [];
    for (const c of cases) {
      const [r] = await eslint.lintText(c.source, { filePath: c.file });
      out.push({ file: c.file, rules: r.messages.map((m) => m.ruleId), messages: r.messages.map((m) => m.message) });
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(cases)], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(stdout) as Outcome[];
}

/** a tools module (the token CLI's library functions) */
const TOOL = 'tools/cli/token.ts';
const toolFrom = (dir: string): string =>
  './' +
  relative(join(ROOT, dir), join(ROOT, TOOL))
    .replace(/\.ts$/, '')
    .replace(/^\.\/(\.\.)/, '$1');

const imports = (name: string, from: string): string => `import { ${name} } from '${from}';\nexport const probe = ${name};\n`;

const forbidden: Array<[string, Case]> = [
  ['base imports an edge', { file: 'src/vault/probe.ts', source: imports('createTwilioClient', '../twilio/rest') }],
  ['base imports the domain', { file: 'src/auth/probe.ts', source: imports('CALL_TTL_SECONDS', '../calls/session') }],
  ['a root base module imports the app', { file: 'src/log.ts', source: imports('buildApp', './app') }],
  ['flows/ (pure domain) imports the Twilio edge', { file: 'src/flows/probe.ts', source: imports('renderVerbs', '../twilio/twiml') }],
  ['media/ imports ops/', { file: 'src/media/probe.ts', source: imports('opsRoutes', '../ops/routes') }],
  ['processors/ imports privacy/ (the cycle broken)', { file: 'src/processors/probe.ts', source: imports('isE164', '../privacy/subject') }],
  ['calls/ imports a domain folder above it', { file: 'src/calls/probe.ts', source: imports('BridgeRegistry', '../media') }],
  ['an edge imports another edge', { file: 'src/ops/probe.ts', source: imports('agents', '../agents') }],
  ['the app imports tools', { file: 'src/app.ts', source: imports('parseTtl', toolFrom('src')) }],
  ['an edge imports the app', { file: 'src/twilio/probe.ts', source: imports('buildApp', '../app') }],
  ['an error catalogue file imports the domain', { file: 'src/errors/probe.ts', source: imports('CALL_TTL_SECONDS', '../calls/session') }],
];

const allowed: Array<[string, Case]> = [
  ['privacy/ imports processors/', { file: 'src/privacy/probe.ts', source: imports('loadProcessors', '../processors') }],
  ['the Twilio edge imports media/', { file: 'src/twilio/probe.ts', source: imports('BridgeRegistry', '../media') }],
  ['an edge imports auth/ (base)', { file: 'src/ops/probe.ts', source: imports('requireRole', '../auth/tokens') }],
  ['an error catalogue file imports its base', { file: 'src/errors/probe.ts', source: imports('coded', './base') }],
  ['server.ts imports the app', { file: 'src/server.ts', source: imports('buildApp', './app') }],
  ['a test imports the app', { file: 'test/unit/probe.test.ts', source: imports('buildApp', '../../src/app') }],
];

describe('import layers (eslint.config.mjs)', () => {
  const all = [
    ...forbidden,
    ...allowed,
    ['a file outside every layer', { file: 'src/newfolder/probe.ts', source: 'export const probe = 1;\n' }] as [string, Case],
  ];
  let outcomes: Outcome[];

  beforeAll(() => {
    outcomes = lint(all.map(([, c]) => c));
  }, 60_000);

  it.each(forbidden.map(([what], i) => [what, i] as const))('refuses: %s', (_what, i) => {
    expect(outcomes[i].rules).toContain('boundaries/dependencies');
  });

  it.each(allowed.map(([what], i) => [what, forbidden.length + i] as const))('allows: %s', (_what, i) => {
    expect(outcomes[i].messages).toEqual([]);
  });

  it('refuses a file in src/ that belongs to no layer', () => {
    expect(outcomes[all.length - 1].rules).toContain('boundaries/no-unknown-files');
  });
});
