/**
 * Which Node the project runs on, checked against what is installed: package.json's engines
 * is the floor the tests run on (Node 20); the Docker image runs a newer LTS. Every package in
 * package-lock.json must accept the Node these tests run on and the engines floor (else
 * `npm ci` warns EBADENGINE, or worse, the package does not load), and every production
 * package must accept the image's Node. Packages with install scripts must be reviewed in
 * package.json's allowScripts, so that `npm ci` prints nothing a newcomer has to puzzle over.
 */
import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';

const root = path.join(__dirname, '../../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  engines: { node: string };
  allowScripts?: Record<string, boolean>;
};
interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  engines?: { node?: string } | string[];
  hasInstallScript?: boolean;
}
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
const installed = Object.entries(lock.packages).filter(([where]) => where !== '');

/** the package's name from its lock-file path (node_modules/a/node_modules/@b/c → @b/c) */
const nameOf = (where: string) => where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);

/** the packages whose engines.node does not accept `version`, as "name@version requires range" */
function excluding(version: string, entries = installed): string[] {
  const out: string[] = [];
  for (const [where, e] of entries) {
    // an old lock-file form is an array of strings; npm ignores it, so do we
    const range = e.engines && !Array.isArray(e.engines) ? e.engines.node : undefined;
    if (range && !semver.satisfies(version, range, { includePrerelease: true })) out.push(`${nameOf(where)}@${e.version} requires node ${range}`);
  }
  return out;
}

/** the Node major the Docker image runs (ARG NODE_MAJOR=…) */
function imageNodeMajor(): number {
  const m = /^ARG NODE_MAJOR=(\d+)$/m.exec(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
  if (!m) throw new Error('Dockerfile has no ARG NODE_MAJOR=<n>');
  return Number(m[1]);
}

describe('supported Node versions', () => {
  const floor = semver.minVersion(pkg.engines.node)!.version;

  // 20.19, not 20.0: the lint toolchain (ESLint 9 needs 20.9, typescript-eslint's visitor keys 20.19)
  test('package.json engines starts at Node 20.19, and the tests run on a Node it accepts', () => {
    expect(floor).toBe('20.19.0');
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  test('every package in the lock file accepts the Node the tests run on', () => {
    expect(excluding(process.version)).toEqual([]);
  });

  test('every package in the lock file accepts the floor of engines', () => {
    expect(excluding(floor)).toEqual([]);
  });

  test('the image runs an even-numbered (LTS) Node newer than the floor, which engines accepts and every production package accepts', () => {
    const major = imageNodeMajor();
    expect(major % 2).toBe(0);
    expect(major).toBeGreaterThan(semver.major(floor));
    const image = `${major}.0.0`;
    expect(semver.satisfies(image, pkg.engines.node)).toBe(true);
    expect(
      excluding(
        image,
        installed.filter(([, e]) => !e.dev),
      ),
    ).toEqual([]);
  });

  test('the check can fail: a package requiring node >=22 is reported', () => {
    const fake: [string, LockEntry][] = [['node_modules/x/node_modules/cookie', { version: '2.0.2', engines: { node: '>=22' } }]];
    expect(excluding('20.20.2', fake)).toEqual(['cookie@2.0.2 requires node >=22']);
    expect(excluding('22.12.0', fake)).toEqual([]);
  });
});

describe('install scripts', () => {
  test('every package in the lock file with an install script has been reviewed in allowScripts', () => {
    const withScripts = installed.filter(([, e]) => e.hasInstallScript).map(([where]) => nameOf(where));
    const reviewed = Object.keys(pkg.allowScripts ?? {}).map((k) => k.replace(/(.)@[^@]*$/, '$1'));
    expect(withScripts.filter((name) => !reviewed.includes(name))).toEqual([]);
  });

  test('none of them is a production dependency (the image installs with --ignore-scripts)', () => {
    expect(installed.filter(([, e]) => e.hasInstallScript && !e.dev).map(([where]) => nameOf(where))).toEqual([]);
  });
});
