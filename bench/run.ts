/**
 * `npm run bench`: every benchmark in one run, one table, and bench/results/latest.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDspBench } from './dsp';
import { runDspAttackBench } from './dsp-attack';
import { runRelayBench } from './relay';
import { runSoakBench } from './soak';
import { runWebhookBench } from './webhook';

type Bench = () => Promise<Record<string, number | string>>;

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const benches = (
    [
      ['dsp', runDspBench],
      ['relay', runRelayBench],
      ['soak', runSoakBench],
      ['webhook', runWebhookBench],
      // the agent as attacker (a few minutes): only when named
      ['dsp-attack', runDspAttackBench, true],
    ] as [string, Bench, boolean?][]
  ).filter(([name, , named]) => (only.length === 0 && !named) || only.includes(name));
  const results: Record<string, Record<string, number | string>> = {};
  const failed: string[] = [];
  for (const [name, bench] of benches) {
    const t0 = Date.now();
    process.stdout.write(`${name}: running...\n`);
    try {
      results[name] = await bench();
    } catch (err) {
      // the table and latest.json still say which benchmark failed; the exit code tells CI
      failed.push(name);
      results[name] = { error: err instanceof Error ? err.message : String(err) };
      process.stderr.write(`${name}: failed\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.stdout.write(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const rows = Object.entries(results).flatMap(([bench, r]) => Object.entries(r).map(([k, v]) => [bench, k, String(v)]));
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length), 6));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('  ');
  process.stdout.write(`\n${line(['bench', 'metric', 'value'])}\n${w.map((n) => '-'.repeat(n)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  const out = path.join(__dirname, 'results', 'latest.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const machine = { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.arch()}` };
  fs.writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), machine, results }, null, 2) + '\n');
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), out)}\n`);
  if (failed.length > 0) process.stderr.write(`\nfailed: ${failed.join(', ')}\n`);
  process.exit(failed.length > 0 ? 1 : 0);
}

void main();
