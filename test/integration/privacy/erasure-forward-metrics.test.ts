/**
 * tonewall_erasure_forwards_total counts each processor's erasure forward once it is known, by
 * processor and outcome (deploy/prometheus/tonewall-alerts.yml alerts on `failed`): a processor
 * whose eraseUrl keeps failing was not told of the erasure, which only the admin's receipt said.
 * One not acknowledged within its own tries is `retrying` on the receipt and counted when its
 * kept retries end (processors/erase-queue.ts). Real app, real HTTP: a processor server answering
 * 503 at one eraseUrl and 200 at another.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TokenAuth } from '../../../src/auth/tokens';
import { startGateway, type Gateway } from '../../support/gateway';
import { metricValue, startHarness, waitFor, type Harness } from '../../support/harness';

const FAST = { baseMs: 10, maxMs: 20, maxAttempts: 5 };
let h: Harness;
let gw: Gateway;
let dir: string;

beforeAll(async () => {
  gw = await startGateway();
  gw.answer = (_n, req) => (req.path === '/down/erase' ? { status: 503 } : { status: 200, body: { ok: true } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-erasem-'));
  const file = path.join(dir, 'processors.yaml');
  fs.writeFileSync(
    file,
    `processors:\n` +
      `  - name: gateway\n    url: ${gw.url}/charge\n    secretEnv: GATEWAY_SECRET\n    fields: [card]\n    eraseUrl: ${gw.url}/erase\n` +
      `  - name: ledger\n    url: ${gw.url}/ledger\n    secretEnv: LEDGER_SECRET\n    fields: [card]\n    eraseUrl: ${gw.url}/down/erase\n`,
  );
  h = await startHarness({
    env: { PROCESSORS_FILE: file, GATEWAY_SECRET: 'gateway-secret-0123456789abcdefghij', LEDGER_SECRET: 'ledger-secret-0123456789abcdefghijkl' },
    build: { erasureBackoff: FAST, erasureRetryBackoff: FAST, erasurePollMs: 20 },
  });
});

afterAll(async () => {
  await h?.close();
  await gw?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('counts a forwarded and a failed erasure forward, by processor, once each', async () => {
  const admin = new TokenAuth(h.config.agentJwtSecret).sign({ sub: 'dpo', endpoint: 'client:dpo', role: 'admin' });
  const res = await fetch(`${h.url}/v1/subjects/${encodeURIComponent('+15005550099')}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { processors: unknown[] }).processors).toEqual([
    { name: 'gateway', status: 'forwarded', httpStatus: 200 },
    { name: 'ledger', status: 'retrying', httpStatus: 503 },
  ]);
  // given up once its kept retries are over too: counted then, once
  await waitFor(async () => (await metricValue(h, 'tonewall_erasure_forwards_total', { processor: 'ledger', outcome: 'failed' })) > 0, 'the forward given up');
  expect(gw.received.filter((r) => r.path === '/down/erase')).toHaveLength(2 * FAST.maxAttempts);
  expect(await metricValue(h, 'tonewall_erasure_forwards_total', { processor: 'ledger', outcome: 'failed' })).toBe(1);
  expect(await metricValue(h, 'tonewall_erasure_forwards_total', { processor: 'gateway', outcome: 'forwarded' })).toBe(1);
  expect(await metricValue(h, 'tonewall_erasure_forwards_total', { processor: 'gateway', outcome: 'failed' })).toBe(0);
  expect(await metricValue(h, 'tonewall_erasure_forwards_total', { processor: 'ledger', outcome: 'forwarded' })).toBe(0);
  // the log names the processor and the receipt, never the number
  expect(h.logs.text).not.toContain('5005550099');
});
