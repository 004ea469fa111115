/**
 * What an instance runs under is logged as it starts (PCI DSS 10.2.1.2, 10.2.1.6: changes to the
 * configuration and the audit mechanism): each flow by id and a digest of its content (a changed
 * flow shows as a changed digest), the processors, the audit keys by the kid their entries carry,
 * and the retention. Real service, its captured log.
 */
import { AuditKey } from '../../../src/audit';
import { AUDIT_KEY, type Harness, startHarness } from '../../support/harness';

const flow = (prompt: string) => ['id: greet', 'numbers: ["+15005550171"]', 'steps:', `  - say: "${prompt}"`, 'handoff:', '  mode: dial'].join('\n');

async function startLine(prompt: string): Promise<Record<string, unknown>> {
  let h: Harness | undefined;
  try {
    h = await startHarness({ flows: { greet: flow(prompt) } });
    const line = h.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'tonewall built');
    expect(line).toBeDefined();
    return line!;
  } finally {
    await h?.close();
  }
}

test('the start line names the flows by content digest, the processors, the audit kids and the retention', async () => {
  const a = await startLine('Thanks for calling.');
  expect(a).toMatchObject({ flows: 1, processors: [], auditKids: [AuditKey.fromSecret(AUDIT_KEY).kid], auditKey: 'configured', auditRetentionDays: 400 });
  const digests = a.flowDigests as Record<string, string>;
  expect(Object.keys(digests)).toEqual(['greet']);
  expect(digests.greet).toMatch(/^[0-9a-f]{16}$/);
  // the same flow gives the same digest; one changed gives another
  expect((await startLine('Thanks for calling.')).flowDigests).toEqual(digests);
  expect(((await startLine('Thanks for calling us.')).flowDigests as Record<string, string>).greet).not.toBe(digests.greet);
});

test('an AUDIT_RETENTION_DAYS under 12 months is warned of at start; 365 or more is not', async () => {
  const warned = async (days: string) => {
    const h = await startHarness({ env: { AUDIT_RETENTION_DAYS: days } });
    try {
      return h.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.variable === 'AUDIT_RETENTION_DAYS');
    } finally {
      await h.close();
    }
  };
  expect(await warned('90')).toEqual([expect.objectContaining({ level: 40, days: 90, msg: expect.stringContaining('PCI DSS 10.5.1') })]);
  expect(await warned('365')).toEqual([]);
});
