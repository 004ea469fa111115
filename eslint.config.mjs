// ESLint 9 flat config: typescript-eslint's recommended rules, the import layers (issue 12: base →
// domain → edges → app.ts → server.ts, tools/ above all) enforced with eslint-plugin-boundaries,
// and eslint-config-prettier last so no rule fights the formatter.
import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/**
 * The layers, bottom up. A file may import from its own folder and from layers below it, never
 * from one above or beside it; `src/` never imports `tools/`.
 * - base: storage, field kinds, vault, audit trail, token auth, the bus, the error catalogue's
 *   area files (errors/), and the root modules.
 * - domain: ordered; a domain folder may import the domain folders listed before it, so the
 *   domain has no folder cycles by construction.
 * - edges: Twilio webhooks and media streams, the agents' API and panel, ops. They do not import
 *   each other.
 */
const BASE_FOLDERS = ['store', 'fields', 'vault', 'audit', 'auth', 'bus', 'errors'];
const BASE_FILES = ['config', 'config-secrets', 'log', 'errors', 'metrics', 'security-headers', 'sids'];
const DOMAIN = ['calls', 'flows', 'recording', 'media', 'captures', 'processors', 'privacy', 'dropin'];
const EDGES = ['twilio', 'agents', 'ops'];

const domainType = (d) => `domain:${d}`;
const edgeType = (e) => `edge:${e}`;

// Folders are matched whole (partialMatch: false). A single root file can only be an element with
// mode 'full', which v7 calls legacy (hence legacy-warnings off below); revisit with v8.
const elements = [
  { type: 'base', partialMatch: false, pattern: `src/{${BASE_FOLDERS.join(',')}}/**` },
  { type: 'base', mode: 'full', pattern: `src/{${BASE_FILES.join(',')}}.ts` },
  ...DOMAIN.map((d) => ({ type: domainType(d), partialMatch: false, pattern: `src/${d}/**` })),
  ...EDGES.map((e) => ({ type: edgeType(e), partialMatch: false, pattern: `src/${e}/**` })),
  // the composition root: app.ts and the parts it is split into (its checks, its HTTP server, its routes), the types of what it takes and builds, and what it builds to start and stop live calls together
  { type: 'app', mode: 'full', pattern: 'src/{app,app-checks,app-http,app-privacy,app-routes,live-calls,services}.ts' },
  // the process: server.ts, and the steps of its stop
  { type: 'server', mode: 'full', pattern: 'src/{server,process-stop}.ts' },
  { type: 'tools', partialMatch: false, pattern: ['tools/**', 'scripts/**'] },
  { type: 'tests', partialMatch: false, pattern: ['test/**', 'bench/**'] },
];

const allowTo = (...types) => ({ to: { element: { types: { anyOf: types } } } });
const SRC_TYPES = ['base', ...DOMAIN.map(domainType), ...EDGES.map(edgeType), 'app', 'server'];

const policies = [
  // npm packages and Node's own modules may be imported anywhere
  { allow: { to: { module: { origin: ['external', 'core'] } } } },
  { from: { element: { type: 'base' } }, allow: allowTo('base') },
  ...DOMAIN.map((d, i) => ({
    from: { element: { type: domainType(d) } },
    allow: allowTo('base', ...DOMAIN.slice(0, i + 1).map(domainType)),
  })),
  ...EDGES.map((e) => ({ from: { element: { type: edgeType(e) } }, allow: allowTo('base', ...DOMAIN.map(domainType), edgeType(e)) })),
  { from: { element: { type: 'app' } }, allow: allowTo('base', ...DOMAIN.map(domainType), ...EDGES.map(edgeType), 'app') },
  { from: { element: { type: 'server' } }, allow: allowTo('base', 'app', 'server') },
  { from: { element: { type: 'tools' } }, allow: allowTo(...SRC_TYPES, 'tools') },
  { from: { element: { type: 'tests' } }, allow: allowTo(...SRC_TYPES, 'tools', 'tests') },
];

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'scripts/**', '**/*.wat'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'tools/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { node: { extensions: ['.ts', '.js', '.json'] } },
      'boundaries/elements': elements,
      'boundaries/legacy-warnings': false,
    },
    rules: {
      'boundaries/dependencies': ['error', { default: 'disallow', policies }],
      // a new folder or root file in src/ must be given a layer above, or it would escape the check
      'boundaries/no-unknown-files': 'error',
      'boundaries/no-unknown-dependencies': 'error',
      // the code's convention: a leading underscore marks a value left out on purpose (rest siblings, unused parameters)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // logs go through pino (STYLE rule 8); a script or test that prints numbers says so with a disable comment
      'no-console': 'error',
    },
  },
  {
    // command-line tools talk to a person on stdout
    files: ['tools/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // tests read untyped answers (inject().json(), emulator records) and reach into fakes; typing each adds noise, not safety
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  prettier,
);
