/**
 * `npm run audit:verify`: an assessor checks audit exports without the service. The exports
 * are the service's own (real service, Redis and HTTP); the check runs on their text alone.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ringFrom, verifyExports } from '../../../tools/cli/audit-verify';
import { AUDIT_KEY, type Harness, startHarness } from '../../support/harness';
import { newCallSid } from '../../support/fixtures';
import { token } from '../../support/agents';

const run = promisify(execFile);
const CLI = path.join(__dirname, '../../../tools/cli/audit-verify.ts');

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

async function exportToday(): Promise<string> {
  const today = new Date().toISOString().slice(0, 10);
  const res = await fetch(`${h.url}/v1/audit/export?from=${today}&to=${today}`, { headers: { authorization: `Bearer ${token(h, 'root', 'admin')}` } });
  expect(res.status).toBe(200);
  return res.text();
}

async function trailOf(n: number): Promise<string> {
  const sid = newCallSid();
  await h.app.services.audit.append(sid, { type: 'call.started' });
  for (let i = 1; i < n; i++) await h.app.services.audit.append(sid, { type: 'tones.masked', count: i });
  return sid;
}

const mine = (sids: string[]) => (p: { callSid: string }) => sids.includes(p.callSid);

test("an export verifies offline under the service's AUDIT_KEY, and an edited line does not", async () => {
  const sid = await trailOf(3);
  const text = await exportToday();
  const ring = ringFrom(AUDIT_KEY);
  const clean = verifyExports([{ file: 'a', text }], ring);
  expect(clean.macChecked).toBe(true);
  expect(clean.problems.filter(mine([sid]))).toEqual([]);

  // an entry edited in the file (or in the store before the export): its MAC fails, links hold
  const edited = text
    .split('\n')
    .map((l) => (l.includes(sid) && l.includes('"seq":2') ? l.replace('"count":1', '"count":7') : l))
    .join('\n');
  expect(verifyExports([{ file: 'a', text: edited }], ring).problems.filter(mine([sid]))).toEqual([{ file: 'a', callSid: sid, seq: 2, problem: 'mac' }]);
  // the wrong key verifies nothing
  expect(verifyExports([{ file: 'a', text }], ringFrom('another-key-0123456789abcdef-0123456789')).problems.filter(mine([sid]))).toEqual([
    { file: 'a', callSid: sid, seq: 1, problem: 'unknown-key' },
  ]);
});

test('a tail cut in the store, which the service verifies, shows against an earlier export; a trail deleted whole is reported', async () => {
  const cut = await trailOf(4);
  const gone = await trailOf(2);
  const before = await exportToday();
  // an insider drops the trail's last two entries: what is left still chains and verifies
  const stored = JSON.parse((await h.redisStore!.get(h.app.services.audit.trailKey(cut)))!) as unknown[];
  await h.redisStore!.set(h.app.services.audit.trailKey(cut), JSON.stringify(stored.slice(0, 2)), 600);
  await h.redisStore!.del(h.app.services.audit.trailKey(gone));
  expect((await h.app.services.audit.verify(cut)).verified).toBe(true);
  const after = await exportToday();

  const ring = ringFrom(AUDIT_KEY);
  expect(verifyExports([{ file: 'after', text: after }], ring).problems.filter(mine([cut, gone]))).toEqual([
    { file: 'after', callSid: gone, seq: 1, problem: 'reported-missing' },
  ]);
  const compared = verifyExports(
    [
      { file: 'before', text: before },
      { file: 'after', text: after },
    ],
    ring,
  ).problems.filter(mine([cut, gone]));
  expect(compared).toHaveLength(3);
  expect(compared).toEqual(
    expect.arrayContaining([
      { file: 'after', callSid: cut, seq: 3, problem: 'truncated-since-before' },
      { file: 'after', callSid: gone, seq: 1, problem: 'reported-missing' },
      { file: 'after', callSid: gone, seq: 1, problem: 'truncated-since-before' },
    ]),
  );

  // the command: files oldest first, AUDIT_KEY from the environment; 1 when anything is wrong
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-verify-'));
  try {
    fs.writeFileSync(path.join(dir, 'before.ndjson'), before);
    fs.writeFileSync(path.join(dir, 'after.ndjson'), after);
    const env = { ...process.env, AUDIT_KEY };
    const ok = await run('npx', ['tsx', CLI, path.join(dir, 'before.ndjson')], { env });
    expect(ok.stderr).toMatch(/ 0 problems/);
    const bad = await run('npx', ['tsx', CLI, path.join(dir, 'before.ndjson'), path.join(dir, 'after.ndjson')], { env }).then(
      () => null,
      (e: { code: number; stdout: string }) => e,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stdout).toContain(`"callSid":"${cut}"`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
