/**
 * The operators' alerting rules (deploy/prometheus/tonewall-alerts.yml) against the service they
 * watch: every metric an alert's expression names is one the service exports (a renamed metric
 * would leave its alert silent forever), and the rules pass promtool's own check and the unit
 * tests beside them (tonewall-alerts.test.yml: each alert fires when it should, silent when not).
 * promtool comes with Debian's prometheus package, which .ci/run installs.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { WEBHOOK_SECONDS_BUCKETS } from '../../../src/metrics';
import { startHarness, type Harness } from '../../support/harness';

const run = promisify(execFile);
const DIR = path.join(__dirname, '../../../deploy/prometheus');
const RULES = path.join(DIR, 'tonewall-alerts.yml');

/** series Prometheus makes itself, not the service: `up` is the scrape's own */
const PROMETHEUS_SERIES = new Set(['up']);
/** PromQL words that look like names: operators, modifiers, grouping */
const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);

interface Rule {
  alert: string;
  expr: string;
}

/** the metric names an expression reads: label matchers, strings, ranges and functions taken out */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    // grouping clauses name labels, not metrics
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    if (m[2] || PROMQL_WORDS.has(m[1].toLowerCase())) continue; // a function call or a keyword
    names.add(m[1]);
  }
  return [...names];
}

function rules(): Rule[] {
  const doc = parse(fs.readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

describe('alerting rules', () => {
  let h: Harness;
  let exported: Set<string>;

  beforeAll(async () => {
    h = await startHarness();
    const token = h.config?.metrics.token;
    const text = await (await fetch(h.metricsUrl, token ? { headers: { authorization: `Bearer ${token}` } } : {})).text();
    // a counter with labels and no sample yet is only in its HELP and TYPE lines
    exported = new Set(
      [...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => name + s) : [name],
      ),
    );
    await h.close();
  });

  it('finds the metric names in an expression', () => {
    expect(
      metricNames('sum by (instance) (rate(a_total{reason="x",le=~"1.5"}[5m])) / on (job) group_left (x) sum(b_bucket offset 5m) > 0.01 and c == bool 1e3'),
    ).toEqual(['a_total', 'b_bucket', 'c']);
  });

  it('every metric an alert reads is one the service exports', () => {
    const all = rules();
    expect(all.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const r of all) {
      const names = metricNames(r.expr);
      expect(names.length).toBeGreaterThan(0);
      for (const n of names) if (!PROMETHEUS_SERIES.has(n) && !exported.has(n)) missing.push(`${r.alert}: ${n}`);
    }
    expect(missing).toEqual([]);
  });

  it("every webhook latency bound an alert reads is one of the histogram's buckets", () => {
    // a bound the histogram lacks reads as no series at all: its alert could never fire
    const bounds = rules().flatMap((r) => [...r.expr.matchAll(/tonewall_webhook_duration_seconds_bucket\{[^}]*le="([^"]+)"/g)].map((m) => [r.alert, m[1]]));
    expect(bounds.map(([alert]) => alert)).toEqual(expect.arrayContaining(['TonewallWebhookSlow', 'TonewallWebhookNearTimeout']));
    for (const [alert, le] of bounds) expect([alert, WEBHOOK_SECONDS_BUCKETS.map(String)]).toEqual([alert, expect.arrayContaining([le])]);
  });

  it('every alert has a summary, a description and a runbook hint', () => {
    for (const r of rules() as (Rule & { labels?: Record<string, string>; annotations?: Record<string, string> })[]) {
      expect([r.alert, Object.keys(r.annotations ?? {}).sort()]).toEqual([r.alert, ['description', 'runbook', 'summary']]);
      expect([r.alert, r.labels?.severity]).toEqual([r.alert, expect.stringMatching(/^(page|ticket)$/)]);
    }
  });

  it('passes promtool check rules and its unit tests', async () => {
    const checked = await run('promtool', ['check', 'rules', RULES]);
    expect(checked.stdout).toContain('SUCCESS');
    const tested = await run('promtool', ['test', 'rules', 'tonewall-alerts.test.yml'], { cwd: DIR });
    expect(tested.stdout + tested.stderr).toContain('SUCCESS');
  });
});
