/**
 * `npm run bench`: every benchmark in one run, one table, and bench/results/latest.json.
 * The DSP and webhook benchmarks are other modules' files: each is run when present, so a
 * checkout without one still benchmarks the rest.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runRelayBench } from './relay';

type Bench = () => Promise<Record<string, number | string>>;

function optional(file: string, exportName: string): Bench | null {
  const full = path.join(__dirname, `${file}.ts`);
  if (!fs.existsSync(full)) return null;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(full) as Record<string, unknown>;
  const fn = mod[exportName];
  return typeof fn === 'function' ? (fn as Bench) : null;
}

async function main(): Promise<void> {
  const benches: [string, Bench | null][] = [
    ['dsp', optional('dsp', 'runDspBench')],
    ['relay', runRelayBench],
    ['webhook', optional('webhook', 'runWebhookBench')],
  ];
  const results: Record<string, Record<string, number | string>> = {};
  for (const [name, bench] of benches) {
    if (!bench) {
      process.stdout.write(`${name}: not present, skipped\n`);
      continue;
    }
    const t0 = Date.now();
    process.stdout.write(`${name}: running...\n`);
    try {
      results[name] = await bench();
    } catch (err) {
      results[name] = { error: (err as Error).message };
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
  process.exit(0);
}

void main();
