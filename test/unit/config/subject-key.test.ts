/**
 * SUBJECT_KEY is a key ring, as AUDIT_KEY is: the first key indexes new calls, every key finds
 * the callers it indexed (test/integration/privacy/subject-key-ring.test.ts). A single key is a
 * ring of one, so a deployment that set one key reads as before. Each key is 32+ characters,
 * given once, and none is the text of another of the service's secrets.
 */
import { loadConfig } from '../../../src/config';
import { coreSecretTexts } from '../../../src/config-secrets';
import { configRefusal, minimalEnv } from '../../support/env';
import { subjectHashWith as hashWith } from '../../support/harness';

const base = { ...minimalEnv(), LOG_LEVEL: 'warn' };
const A = 'subject-key-a-0123456789abcdef-0123456789';
const B = 'subject-key-b-0123456789abcdef-0123456789';

const refusal = configRefusal;

test('SUBJECT_KEY is one key or a comma-separated ring, in order, the first indexing', () => {
  expect(loadConfig({ ...base, SUBJECT_KEY: A }).subjectKeys).toEqual([A]);
  expect(loadConfig({ ...base, SUBJECT_KEY: ` ${B} , ${A}` }).subjectKeys).toEqual([B, A]);
  expect(loadConfig(base).subjectKeys).toBeUndefined();
});

test.each([
  ['a short key in the ring', () => `${A},short`, 'SUBJECT_KEY: every key must be at least 32 characters (comma-separated, the first indexes new calls)'],
  ['an empty entry', () => `${A},`, 'SUBJECT_KEY: every key must be at least 32 characters (comma-separated, the first indexes new calls)'],
  ['a key given twice', () => `${A},${B},${A}`, 'SUBJECT_KEY: a key is given twice'],
  ['a ring key equal to AGENT_JWT_SECRET', () => `${A},${'j'.repeat(40)}`, 'SUBJECT_KEY must not be the same text as AGENT_JWT_SECRET'],
  ['a ring key equal to TWILIO_AUTH_TOKEN', () => `${A},${'t'.repeat(32)}`, 'SUBJECT_KEY must not be the same text as TWILIO_AUTH_TOKEN'],
])('SUBJECT_KEY with %s is refused, naming it and no key', (_what, value, message) => {
  const e = refusal({ SUBJECT_KEY: value() });
  expect(e.variable).toBe('SUBJECT_KEY');
  expect(e.message).toBe(message);
});

test('no key of the SUBJECT_KEY ring may be a key of the AUDIT_KEY ring', () => {
  const audit = 'audit-key-0123456789abcdef-0123456789abc';
  expect(refusal({ SUBJECT_KEY: `${A},${audit}`, AUDIT_KEY: audit }).message).toBe('AUDIT_KEY must not be the same text as SUBJECT_KEY');
  expect(refusal({ SUBJECT_KEY: A, AUDIT_KEY: `${audit},${A}` }).message).toBe('AUDIT_KEY must not be the same text as SUBJECT_KEY');
});

test("each key of the ring is one of the service's own secrets, which a processor's credential or METRICS_TOKEN may not be", () => {
  expect(coreSecretTexts({ SUBJECT_KEY: `${B},${A}` }).map((s) => s.where)).toEqual([
    'SUBJECT_KEY',
    'SUBJECT_KEY (key 1 of its ring)',
    'SUBJECT_KEY (key 2 of its ring)',
  ]);
  expect(refusal({ SUBJECT_KEY: `${B},${A}`, METRICS_TOKEN: A }).message).toBe('METRICS_TOKEN must not be the same text as SUBJECT_KEY (key 2 of its ring)');
});

test('the first key alone files new calls: a ring B,A hashes as B alone does, and a single key as it always has', async () => {
  const subjectHashWith = (env: Record<string, string>) => hashWith({ ...base, ...env });
  const b = await subjectHashWith({ SUBJECT_KEY: B });
  expect(await subjectHashWith({ SUBJECT_KEY: `${B},${A}` })).toBe(b);
  expect(await subjectHashWith({ SUBJECT_KEY: A })).not.toBe(b);
});
