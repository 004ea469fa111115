/**
 * An erasure a tonewall-protocol processor does not acknowledge within the forward's own tries is
 * kept in the store, its body (which names the caller: `subject`) sealed with the vault's keys,
 * and sent by another instance once the first is gone: the same body, signed, under the same
 * Idempotency-Key. Two real apps one after the other on one Redis and one VAULT_KEYS, real HTTP:
 * the processor's eraseUrl refuses until the first app has closed. No key or value in Redis holds
 * the caller's number meanwhile, and the caller's access answer still works.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TokenAuth } from '../../../src/auth/tokens';
import { ERASURE_RECORD_TTL_SECONDS } from '../../../src/processors/erase-queue';
import { verifyProcessorRequest } from '../../../src/processors';
import { generateKeyRingText } from '../../../src/vault';
import { startGateway, type Gateway } from '../../support/gateway';
import { PAYMENTS_NUMBER, WEBHOOK_CALLER, metricValue, startHarness, waitFor, webhookParams, type Harness } from '../../support/harness';
import { newCallSid } from '../../support/fixtures';
import { uniquePrefix } from '../../support/redis';

const FAST = { baseMs: 10, maxMs: 20, maxAttempts: 5 };
const LEDGER_SECRET = 'ledger-secret-0123456789abcdefghijkl';
/** the caller's number as digits, however it is written */
const DIGITS = WEBHOOK_CALLER.slice(1);

let gw: Gateway;
let dir: string;
const open: Harness[] = [];

beforeEach(async () => {
  gw = await startGateway();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-erasefwd-'));
});

afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
  await gw.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a tonewall forward the processor refused is kept sealed, and sent by a fresh instance once the first is gone', async () => {
  const file = path.join(dir, 'processors.yaml');
  fs.writeFileSync(
    file,
    `processors:\n  - name: ledger\n    url: ${gw.url}/charge\n    secretEnv: LEDGER_SECRET\n    fields: [card]\n    eraseUrl: ${gw.url}/erase\n`,
  );
  // what both instances are started with: one deployment's VAULT_KEYS and Redis
  const env = { PROCESSORS_FILE: file, LEDGER_SECRET, VAULT_KEYS: generateKeyRingText('k1') };
  const keyPrefix = uniquePrefix('erasefwd-restart');
  const erasures = () => gw.received.filter((r) => r.path === '/erase');

  // the first instance: its retries would come only at a poll it never makes before it is gone
  const first = await startHarness({ keyPrefix, env, build: { erasureBackoff: FAST, erasureRetryBackoff: FAST, erasurePollMs: 3_600_000 } });
  open.push(first);
  const admin = new TokenAuth(first.config.agentJwtSecret).sign({ sub: 'dpo', endpoint: 'client:dpo', role: 'admin' });
  const subjectUrl = (h: Harness) => `${h.url}/v1/subjects/${encodeURIComponent(WEBHOOK_CALLER)}`;
  // a call of the caller's: its record, its number sealed in the vault, its audit trail
  expect((await first.emulator.signedPost(first.voiceUrl, webhookParams(newCallSid(), PAYMENTS_NUMBER))).status).toBe(200);

  gw.answer = () => ({ status: 503 });
  const res = await fetch(subjectUrl(first), { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
  expect(res.status).toBe(200);
  const receipt = (await res.json()) as { receiptId: string; calls: number; processors: unknown[] };
  expect(receipt.calls).toBe(1);
  expect(receipt.processors).toEqual([{ name: 'ledger', status: 'retrying', httpStatus: 503 }]);
  const refused = erasures();
  expect(refused).toHaveLength(FAST.maxAttempts);
  // not given up: nothing counted failed, so no alert
  expect(await metricValue(first, 'tonewall_erasure_forwards_total', { processor: 'ledger', outcome: 'failed' })).toBe(0);

  // every key and every value the store holds: no caller's number, however written; the kept forward expires
  const held = await first.scan();
  for (const { key, content } of held) expect(`${key}\n${content}`).not.toContain(DIGITS);
  const kept = held.filter(({ key }) => key.startsWith(`${keyPrefix}erasefwd:`) && !key.includes(':lease:') && !/:pending(-sealed)?$/.test(key));
  expect(kept).toHaveLength(1);
  expect(kept[0].ttl).toBeGreaterThan(0);
  expect(kept[0].ttl).toBeLessThanOrEqual(ERASURE_RECORD_TTL_SECONDS);
  const record = JSON.parse(kept[0].content) as Record<string, unknown>;
  expect(record.body).toBeUndefined();
  expect(typeof record.sealed).toBe('string');
  // listed where only a release that opens sealed bodies looks: one older (a rolling upgrade) reads
  // the plain index alone, and would send a sealed record's missing body as an empty erasure
  const index = (suffix: string) => held.find(({ key }) => key === `${keyPrefix}erasefwd:${suffix}`)?.content ?? '';
  expect(index('pending-sealed')).toContain(receipt.receiptId);
  expect(index('pending')).not.toContain(receipt.receiptId);

  // the caller's access answer: no call held, and the kept forward, which holds their identity sealed, named (never its body)
  const access = await fetch(subjectUrl(first), { headers: { authorization: `Bearer ${admin}` } });
  expect(access.status).toBe(200);
  expect(await access.json()).toEqual({
    subject: '+*******4321',
    calls: [],
    erasureForwards: [{ receiptId: receipt.receiptId, processor: 'ledger', attempts: 0, createdAt: expect.any(String), nextAt: expect.any(String) }],
  });

  // the first instance is gone; the processor answers again; a fresh instance on the same Redis and VAULT_KEYS
  await open.shift()!.close();
  gw.answer = () => ({ status: 200, body: { ok: true } });
  const next = await startHarness({ keyPrefix, env, build: { erasureRetryBackoff: FAST, erasurePollMs: 20 } });
  open.push(next);
  await waitFor(() => erasures().length > refused.length, 'the kept forward sent by the fresh instance');
  await waitFor(
    async () => (await metricValue(next, 'tonewall_erasure_forwards_total', { processor: 'ledger', outcome: 'forwarded' })) === 1,
    'the forward counted',
  );
  const sent = erasures().slice(refused.length);
  expect(sent).toHaveLength(1);
  // the identical request: the same bytes, the same Idempotency-Key, signed with the processor's secret
  expect(sent[0].body).toBe(refused[0].body);
  expect(sent[0].headers['idempotency-key']).toBe(refused[0].headers['idempotency-key']);
  expect(verifyProcessorRequest(String(sent[0].headers['x-tonewall-signature']), sent[0].body, LEDGER_SECRET, 'erasure')).toEqual({
    purpose: 'erasure',
    subject: WEBHOOK_CALLER,
    receiptId: receipt.receiptId,
  });

  // acknowledged: the kept forward is gone, and nothing of the caller is held
  const after = await next.scan();
  expect(after.filter(({ key }) => key.startsWith(`${keyPrefix}erasefwd:`))).toEqual([]);
  for (const { key, content } of after) expect(`${key}\n${content}`).not.toContain(DIGITS);
  for (const h of [first, next]) expect(h.logs.text).not.toContain(DIGITS);
});
