/**
 * A mid-call capture feeds the downstream processor (DESIGN "Capture mid-call": on completion
 * … deliver to processors) and the processor's answer reaches the agent as `processor.result`.
 * The processor is the one place the plain value goes.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startHarness, type Harness } from '../support/harness';
import { expectNoStreamErrors } from '../support/streams';
import { acceptedCall, AgentSocket, api, keyed, makeFlowsDir, token } from '../support/agents';

let h: Harness;
let flowsDir: string;
let dir: string;
let server: http.Server;
const received: { body: string; signature?: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ body, signature: req.headers['x-tonewall-signature'] as string | undefined });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ approved: true, reference: 'ch_test' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/charge`;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-proc-'));
  const file = path.join(dir, 'processors.yaml');
  fs.writeFileSync(file, `processors:\n  - name: gateway\n    url: ${url}\n    secretEnv: GATEWAY_SECRET\n    fields: [card]\n`);
  flowsDir = makeFlowsDir();
  h = await startHarness({ flowsDir, env: { PROCESSORS_FILE: file, GATEWAY_SECRET: 'gateway-secret-0123456789abcdefghij' } });
});

// no message the service sent on any stream is one Twilio refuses (31924)
afterEach(() => expectNoStreamErrors(h.emulator));

afterAll(async () => {
  await h?.close();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(flowsDir, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

it('delivers a captured card to the processor and shows its answer to the agent', async () => {
  const alice = token(h, 'alice');
  const sock = await AgentSocket.open(h, alice);
  const { call, caller } = await acceptedCall(h, alice);
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' })).status).toBe(201);
  await caller.sendAudio(keyed('4111111111111111#'));
  const result = await sock.next((e) => e.type === 'processor.result' && e.callSid === call.sid, 'processor.result', 15_000);
  expect(result).toMatchObject({ processor: 'gateway', ok: true, result: { approved: true, reference: 'ch_test' } });
  expect(received).toHaveLength(1);
  expect(JSON.parse(received[0].body)).toMatchObject({ callSid: call.sid, fields: { card: '4111111111111111' } });
  expect(received[0].signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  for (const text of sock.raw) expect(text).not.toContain('4111111111111111');
  await call.hangup();
  sock.close();
});
