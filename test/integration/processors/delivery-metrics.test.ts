/**
 * tonewall_processor_deliveries_total counts each delivery once when it ends, by processor and
 * outcome (deploy/prometheus/tonewall-alerts.yml alerts on `failed`): a processor that answers
 * counts `delivered`, one that keeps failing counts `failed` once, after its last try.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { metricValue, startHarness, waitFor, type Harness } from '../../support/harness';
import { acceptedCall, AgentSocket, api, keyed, makeFlowsDir, token } from '../../support/agents';

const FAST = { baseMs: 10, maxMs: 20, maxAttempts: 5 };
let h: Harness;
let flowsDir: string;
let dir: string;
let server: http.Server;
let declined = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/decline') {
        declined += 1;
        res.writeHead(502, { 'content-type': 'application/json' }).end('{}');
      } else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ approved: true, reference: 'ch_test' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-procm-'));
  const file = path.join(dir, 'processors.yaml');
  fs.writeFileSync(
    file,
    `processors:\n  - name: gateway\n    url: ${base}/charge\n    secretEnv: GATEWAY_SECRET\n    fields: [card]\n` +
      `  - name: ledger\n    url: ${base}/decline\n    secretEnv: LEDGER_SECRET\n    fields: [card]\n`,
  );
  flowsDir = makeFlowsDir();
  h = await startHarness({
    flowsDir,
    env: { PROCESSORS_FILE: file, GATEWAY_SECRET: 'gateway-secret-0123456789abcdefghij', LEDGER_SECRET: 'ledger-secret-0123456789abcdefghijkl' },
    build: { processorBackoff: FAST },
  });
});

afterAll(async () => {
  await h?.close();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(flowsDir, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

it('counts a delivered and a failed delivery once each, by processor', async () => {
  const alice = token(h, 'alice');
  const sock = await AgentSocket.open(h, alice);
  const { call, caller } = await acceptedCall(h, alice);
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' })).status).toBe(201);
  await caller.sendAudio(keyed('4111111111111111#'));
  await sock.next((e) => e.type === 'processor.result' && e.processor === 'gateway', 'gateway result', 15_000);
  const failed = await sock.next((e) => e.type === 'processor.result' && e.processor === 'ledger', 'ledger result', 15_000);
  expect(failed).toMatchObject({ ok: false, attempts: FAST.maxAttempts });
  expect(declined).toBe(FAST.maxAttempts);
  await waitFor(async () => (await metricValue(h, 'tonewall_processor_deliveries_total', { processor: 'ledger', outcome: 'failed' })) === 1, 'failed counted');
  expect(await metricValue(h, 'tonewall_processor_deliveries_total', { processor: 'gateway', outcome: 'delivered' })).toBe(1);
  expect(await metricValue(h, 'tonewall_processor_deliveries_total', { processor: 'gateway', outcome: 'failed' })).toBe(0);
  expect(await metricValue(h, 'tonewall_processor_deliveries_total', { processor: 'ledger', outcome: 'delivered' })).toBe(0);
  await call.hangup();
  sock.close();
});
