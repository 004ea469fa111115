/**
 * Issue 11 item 7 (and the variables items 3, 4 and 6 add): the configuration refuses weak
 * setups, and the caller index has a key of its own, so rotating AGENT_JWT_SECRET keeps
 * stored callers findable for access and erasure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../../../src/app';
import type { AuditTrail } from '../../../src/audit';
import { DEFAULT_SHUTDOWN_DRAIN_MS, loadConfig, originsWithPath } from '../../../src/config';
import { EmbeddedStore } from '../../../src/store';
import { generateKeyRingText } from '../../../src/vault';
import { configRefusal, minimalEnv } from '../../support/env';
import { LogCapture, subjectHashWith as hashWith } from '../../support/harness';

const base = { ...minimalEnv(), LOG_LEVEL: 'warn' };

const refusal = configRefusal;

describe('loadConfig: issue 11 variables', () => {
  test('defaults: 12 h tokens, 400-day audit retention, metrics off the public port, no trusted proxy', () => {
    const c = loadConfig(base);
    expect(c.jwt).toEqual({ maxLifetimeSeconds: 43200, audience: undefined, issuer: undefined });
    expect(c.auditRetentionDays).toBe(400);
    // unset: buildApp takes DEFAULT_METRICS_PORT, where a busy port is warned, not refused (ops/metrics-server.ts)
    expect(c.metrics.port).toBeUndefined();
    expect(loadConfig({ ...base, METRICS_PORT: '9100' }).metrics.port).toBe(9100);
    expect(c.metrics.token).toBeUndefined();
    expect(c.trustProxy).toBe(false);
    expect(c.rateLimitMax).toBeGreaterThan(0);
    // unset: agents/socket-limits.ts's own default applies
    expect(c.agentSocketsPerAgent).toBeUndefined();
    expect(loadConfig({ ...base, AGENT_SOCKETS_PER_AGENT: '3' }).agentSocketsPerAgent).toBe(3);
    // PCI DSS 8.2.8: 15 minutes idle unless the operator asks for less
    expect(c.agentIdleTimeoutSeconds).toBe(900);
    expect(loadConfig({ ...base, AGENT_IDLE_TIMEOUT_SECONDS: '300' }).agentIdleTimeoutSeconds).toBe(300);
    expect(loadConfig({ ...base, AGENT_IDLE_TIMEOUT_SECONDS: '1' }).agentIdleTimeoutSeconds).toBe(1);
  });

  test.each(['ftp://api.twilio.com', 'file:///etc/passwd', 'ws://127.0.0.1:9'])(
    'TWILIO_API_BASE_URL=%s is refused: the REST client speaks http(s) only',
    (value) => {
      const e = refusal({ TWILIO_API_BASE_URL: value });
      expect(e.variable).toBe('TWILIO_API_BASE_URL');
      expect(e.message).toBe('TWILIO_API_BASE_URL must be an http:// or https:// URL');
    },
  );

  test('TWILIO_API_BASE_URL takes https and http (a proxy, the emulator), its trailing slash dropped', () => {
    expect(loadConfig({ ...base, TWILIO_API_BASE_URL: 'https://api.twilio.com/' }).twilio.apiBaseUrl).toBe('https://api.twilio.com');
    expect(loadConfig({ ...base, TWILIO_API_BASE_URL: 'HTTP://127.0.0.1:8080' }).twilio.apiBaseUrl).toBe('HTTP://127.0.0.1:8080');
  });

  test.each(['0', '901', '3600', '1.5', 'soon', '-60'])('AGENT_IDLE_TIMEOUT_SECONDS=%s is refused, saying what it takes', (value) => {
    const e = refusal({ AGENT_IDLE_TIMEOUT_SECONDS: value });
    expect(e.variable).toBe('AGENT_IDLE_TIMEOUT_SECONDS');
    expect(e.message).toBe('AGENT_IDLE_TIMEOUT_SECONDS must be a whole number of seconds from 1 to 900 (PCI DSS 8.2.8: 15 minutes at most)');
  });

  test.each([
    ['SUBJECT_KEY', 'short'],
    ['AUDIT_KEY', 'short'],
    ['METRICS_TOKEN', 'short'],
    ['SUBJECT_KEY', 'j'.repeat(40)],
    ['AUDIT_KEY', 't'.repeat(32)],
    ['AUDIT_RETENTION_DAYS', '0'],
    ['AGENT_JWT_MAX_LIFETIME_SECONDS', '5'],
    ['AGENT_SOCKETS_PER_AGENT', '0'],
    ['AGENT_SOCKETS_PER_AGENT', 'many'],
    ['TRUST_PROXY', 'true'],
    ['TRUST_PROXY', '10.0.0.0/99'],
    ['TRUST_PROXY', '*'],
    ['SHUTDOWN_DRAIN_MS', '8001'],
    ['SHUTDOWN_DRAIN_MS', '-1'],
  ])('%s=%s is refused, naming the variable', (name, value) => {
    const e = refusal({ [name]: value });
    expect(e.variable).toBe(name);
    expect(e.message).toContain(name);
    // the refusal never repeats a secret's text
    expect(e.message).not.toContain('j'.repeat(40));
    expect(e.message).not.toContain('t'.repeat(32));
  });

  test('SUBJECT_KEY and AUDIT_KEY must differ', () => {
    expect(refusal({ SUBJECT_KEY: 's'.repeat(32), AUDIT_KEY: 's'.repeat(32) }).variable).toBe('AUDIT_KEY');
    expect(refusal({ SUBJECT_KEY: 's'.repeat(32), AUDIT_KEY: `${'a'.repeat(32)},${'s'.repeat(32)}` }).variable).toBe('AUDIT_KEY');
  });

  test('AUDIT_KEY is one key or a comma-separated ring, the first sealing', () => {
    expect(loadConfig({ ...base, AUDIT_KEY: 'a'.repeat(32) }).auditKeys).toEqual(['a'.repeat(32)]);
    expect(loadConfig({ ...base, AUDIT_KEY: ` ${'n'.repeat(32)} , ${'o'.repeat(40)}` }).auditKeys).toEqual(['n'.repeat(32), 'o'.repeat(40)]);
    expect(loadConfig(base).auditKeys).toBeUndefined();
  });

  test.each([
    ['a short key in the ring', () => `${'n'.repeat(32)},short`],
    ['an empty entry', () => `${'n'.repeat(32)},`],
    ['a key given twice', () => `${'n'.repeat(32)},${'n'.repeat(32)}`],
    ['a ring key equal to AGENT_JWT_SECRET', () => `${'n'.repeat(32)},${'j'.repeat(40)}`],
  ])('AUDIT_KEY with %s is refused, naming it and no key', (_what, value) => {
    const e = refusal({ AUDIT_KEY: value() });
    expect(e.variable).toBe('AUDIT_KEY');
    expect(e.message).not.toContain('n'.repeat(32));
  });

  test('SHUTDOWN_DRAIN_MS: a drain by default where another instance can take the calls (Redis), none on the embedded store', () => {
    expect(loadConfig(base).shutdownDrainMs).toBe(0);
    expect(loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379' }).shutdownDrainMs).toBe(DEFAULT_SHUTDOWN_DRAIN_MS);
    expect(loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379', SHUTDOWN_DRAIN_MS: '0' }).shutdownDrainMs).toBe(0);
    // compose passes an unset variable on as empty: the default, not 0
    expect(loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379', SHUTDOWN_DRAIN_MS: '' }).shutdownDrainMs).toBe(DEFAULT_SHUTDOWN_DRAIN_MS);
    expect(loadConfig({ ...base, SHUTDOWN_DRAIN_MS: '8000' }).shutdownDrainMs).toBe(8000);
  });

  test('TRUST_PROXY takes addresses, ranges and the proxy-addr names', () => {
    expect(loadConfig({ ...base, TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1,loopback' }).trustProxy).toBe('127.0.0.1,10.0.0.0/8,::1,loopback');
  });
});

describe('METRICS_TOKEN', () => {
  // a scraper's configuration holds it and each scrape sends it: it may hold no other secret's text
  const VAULT_KEY = Buffer.alloc(32, 7).toString('base64');
  const REDIS_PASSWORD = 'redis-password-0123456789abcdef-01';
  const env = {
    SUBJECT_KEY: 'subject-key-0123456789abcdef-0123456789',
    CAPTURE_RESULT_SECRET: 'capture-secret-0123456789abcdef-012345',
    AUDIT_KEY: `${'a'.repeat(32)},audit-key-two-0123456789abcdef-0123456`,
    INSTANCE_MESSAGE_KEY: `${'i'.repeat(32)},instance-key-two-0123456789abcdef-01`,
    VAULT_KEYS: `k1:${VAULT_KEY}`,
    REDIS_URL: `redis://default:${REDIS_PASSWORD}@127.0.0.1:6379/0`,
  };

  test.each([
    ['TWILIO_AUTH_TOKEN', minimalEnv().TWILIO_AUTH_TOKEN],
    ['AGENT_JWT_SECRET', minimalEnv().AGENT_JWT_SECRET],
    ['SUBJECT_KEY', env.SUBJECT_KEY],
    ['CAPTURE_RESULT_SECRET', env.CAPTURE_RESULT_SECRET],
    ['AUDIT_KEY (key 2 of its ring)', 'audit-key-two-0123456789abcdef-0123456'],
    ['INSTANCE_MESSAGE_KEY (key 2 of its ring)', 'instance-key-two-0123456789abcdef-01'],
    ['VAULT_KEYS (the key of entry 1)', VAULT_KEY],
    ['REDIS_URL (its password)', REDIS_PASSWORD],
  ])('the same text as %s is refused, naming both and no text', (where, text) => {
    const e = refusal({ ...env, METRICS_TOKEN: text });
    expect(e.variable).toBe('METRICS_TOKEN');
    expect(e.message).toContain(`METRICS_TOKEN must not be the same text as ${where}`);
    expect(e.message).not.toContain(text);
  });

  test("a text of its own is taken; shorter than 32 characters is refused, as every key of the service's own", () => {
    expect(loadConfig({ ...base, ...env, METRICS_TOKEN: 'm'.repeat(32) }).metrics.token).toBe('m'.repeat(32));
    const e = refusal({ ...env, METRICS_TOKEN: 'm'.repeat(31) });
    expect(e.variable).toBe('METRICS_TOKEN');
    expect(e.message).not.toContain('m'.repeat(31));
  });
});

describe('SUBJECT_KEY', () => {
  const subjectHashWith = (env: Record<string, string>) => hashWith({ ...base, ...env });

  test('with SUBJECT_KEY set, rotating AGENT_JWT_SECRET leaves the caller index unchanged', async () => {
    const subjectKey = 's'.repeat(40);
    const before = await subjectHashWith({ SUBJECT_KEY: subjectKey });
    const after = await subjectHashWith({ SUBJECT_KEY: subjectKey, AGENT_JWT_SECRET: 'rotated-'.repeat(6) });
    expect(after).toBe(before);
    expect(await subjectHashWith({ SUBJECT_KEY: 'another-subject-key-0123456789abcdef' })).not.toBe(before);
  });

  test('unset, the legacy derivation is kept and a warning says why to set it', async () => {
    const logs = new LogCapture();
    const app = await buildApp(loadConfig(base), { logStream: logs });
    await app.close();
    expect(logs.lines.map((l) => JSON.parse(l) as { level: number; variable?: string }).some((l) => l.level === 40 && l.variable === 'SUBJECT_KEY')).toBe(true);
  });

  test('unset with ERASE_RECORDINGS, the warning says a rotation leaves recordings at Twilio undeleted (the index is kept AUDIT_RETENTION_DAYS)', async () => {
    const warning = async (env: Record<string, string>) => {
      const logs = new LogCapture();
      const app = await buildApp(loadConfig({ ...base, ...env }), { logStream: logs });
      await app.close();
      return logs.lines
        .map((l) => JSON.parse(l) as { level: number; variable?: string; msg: string })
        .find((l) => l.level === 40 && l.variable === 'SUBJECT_KEY');
    };
    expect((await warning({ ERASE_RECORDINGS: 'true' }))?.msg).toContain('recordings at Twilio');
    expect((await warning({}))?.msg).not.toContain('recordings');
  });
});

describe('AUDIT_KEY ring', () => {
  const OLD = 'old-audit-key-0123456789abcdef-0123456789';
  const NEW = 'new-audit-key-0123456789abcdef-0123456789';
  const CALL = 'CA0123456789abcdef0123456789abcdef';
  /** builds the app with `env` on `store`, runs `fn` on its audit trail, closes it */
  const withAudit = async <T>(store: EmbeddedStore, env: Record<string, string>, fn: (audit: AuditTrail) => Promise<T>): Promise<T> => {
    const app = await buildApp(loadConfig({ ...base, ...env }), { logStream: new LogCapture(), store });
    try {
      return await fn(app.services.audit);
    } finally {
      await app.close();
    }
  };

  test('a trail sealed under the old key verifies with new,old, appends seal with new; without old it is unknown-key', async () => {
    const store = new EmbeddedStore();
    try {
      await withAudit(store, { AUDIT_KEY: OLD }, (a) => a.append(CALL, { type: 'call.started' }));
      const after = await withAudit(store, { AUDIT_KEY: `${NEW},${OLD}` }, async (a) => {
        await a.append(CALL, { type: 'call.ended' });
        return a.verify(CALL);
      });
      expect(after.verified).toBe(true);
      expect(after.entries[0].kid).not.toBe(after.entries[1].kid);
      expect(await withAudit(store, { AUDIT_KEY: NEW }, (a) => a.verify(CALL))).toMatchObject({ verified: false, brokenAt: { seq: 1, reason: 'unknown-key' } });
    } finally {
      await store.close();
    }
  });

  test('unset, trails verify across a VAULT_KEYS rotation while the old vault key is kept; once AUDIT_KEY is set, a vault key seals and verifies nothing', async () => {
    const store = new EmbeddedStore();
    const k1 = generateKeyRingText('k1');
    const k2 = generateKeyRingText('k2');
    try {
      await withAudit(store, { VAULT_KEYS: k1 }, (a) => a.append(CALL, { type: 'call.started' }));
      expect(await withAudit(store, { VAULT_KEYS: `${k2},${k1}` }, (a) => a.verify(CALL))).toMatchObject({ verified: true });
      expect(await withAudit(store, { VAULT_KEYS: k1, AUDIT_KEY: NEW }, (a) => a.verify(CALL))).toMatchObject({
        verified: false,
        brokenAt: { seq: 1, reason: 'unknown-key' },
      });
      expect(await withAudit(store, { VAULT_KEYS: k2 }, (a) => a.verify(CALL))).toMatchObject({ verified: false, brokenAt: { seq: 1, reason: 'unknown-key' } });
    } finally {
      await store.close();
    }
  });
});

describe('PUBLIC_URL and MEDIA_PUBLIC_URL are origins', () => {
  // every URL Twilio is given, and every signature checked, is the origin with /twilio/… or
  // /media/… after it: anything more gives Twilio URLs that are not served or never verify
  test.each([
    ['PUBLIC_URL', 'https://ivr.example.com?tenant=1', /no query or fragment/],
    ['PUBLIC_URL', 'https://ivr.example.com#top', /no query or fragment/],
    ['PUBLIC_URL', 'ftp://ivr.example.com', /https:\/\/ or http:\/\//],
    ['PUBLIC_URL', 'https://ops:hunter2-secret@ivr.example.com', /user name or password/],
    ['MEDIA_PUBLIC_URL', 'ftp://m1.example.com', /https:\/\//],
  ])('%s=%s is refused at start, naming the variable and what to fix, never its text', (name, value, why) => {
    const e = refusal({ [name]: value });
    expect(e.variable).toBe(name);
    expect(e.message).toMatch(why);
    expect(e.message).not.toContain(value);
    expect(e.message).not.toContain('hunter2');
  });

  test('an origin, with a port or a trailing slash, is taken; MEDIA_PUBLIC_URL may be ws or wss', () => {
    expect(loadConfig({ ...base, PUBLIC_URL: 'https://ivr.example.com/' }).publicUrl).toBe('https://ivr.example.com');
    expect(loadConfig({ ...base, PUBLIC_URL: 'https://ivr.example.com:8443' }).publicUrl).toBe('https://ivr.example.com:8443');
    expect(loadConfig({ ...base, PUBLIC_URL: 'http://[::1]:3000' }).publicUrl).toBe('http://[::1]:3000');
    expect(loadConfig({ ...base, MEDIA_PUBLIC_URL: 'wss://m1.example.com' }).mediaPublicUrl).toBe('wss://m1.example.com');
  });

  test('a path is taken (a proxy in front may strip it) and named for the start warning', () => {
    const config = loadConfig({ ...base, PUBLIC_URL: 'https://ivr.example.com/tonewall/', MEDIA_PUBLIC_URL: 'wss://m1.example.com' });
    expect(config.publicUrl).toBe('https://ivr.example.com/tonewall');
    expect(originsWithPath(config)).toEqual(['PUBLIC_URL']);
    expect(originsWithPath(loadConfig({ ...base, PUBLIC_URL: 'https://ivr.example.com/', MEDIA_PUBLIC_URL: 'https://m1.example.com/media' }))).toEqual([
      'MEDIA_PUBLIC_URL',
    ]);
    expect(originsWithPath(loadConfig({ ...base, PUBLIC_URL: 'https://ivr.example.com' }))).toEqual([]);
  });
});

describe('the start line', () => {
  const started = async (env: Record<string, string>) => {
    const logs = new LogCapture();
    const app = await buildApp(loadConfig({ ...base, LOG_LEVEL: 'info', ...env }), { logStream: logs });
    await app.close();
    return logs.lines.map((l) => JSON.parse(l) as { level: number; msg?: string; [k: string]: unknown });
  };

  test('names the store, the flows loaded by id and the origins Twilio is given', async () => {
    const lines = await started({ PUBLIC_URL: 'https://ivr.example.com', MEDIA_PUBLIC_URL: 'https://m1.example.com' });
    const built = lines.find((l) => l.msg === 'tonewall built')!;
    const dir = minimalEnv().FLOWS_DIR;
    const ids = fs
      .readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => (fs.readFileSync(path.join(dir, f), 'utf8').match(/^id: *(\S+)/m) ?? [])[1]);
    expect(built).toMatchObject({ store: 'embedded', publicUrl: 'https://ivr.example.com', mediaPublicUrl: 'https://m1.example.com', flows: ids.length });
    // the caller index's keys, never the keys themselves
    expect(built).toMatchObject({ subjectKeys: 'derived', eraseRecordings: false });
    const ring = (await started({ SUBJECT_KEY: `${'n'.repeat(32)},${'o'.repeat(32)}`, ERASE_RECORDINGS: 'true' })).find((l) => l.msg === 'tonewall built')!;
    expect(ring).toMatchObject({ subjectKeys: 2, eraseRecordings: true });
    expect(JSON.stringify(ring)).not.toContain('n'.repeat(32));
    expect([...(built.flowIds as string[])].sort()).toEqual([...ids].sort());
    expect(lines.some((l) => l.variable === 'FLOWS_DIR')).toBe(false);
    expect(lines.some((l) => l.variable === 'PUBLIC_URL')).toBe(false);
  });

  test('a PUBLIC_URL with a path is warned: only a proxy that strips it serves what Twilio requests', async () => {
    const lines = await started({ PUBLIC_URL: 'https://ivr.example.com/tonewall' });
    const warned = lines.filter((l) => l.level === 40 && l.variable === 'PUBLIC_URL');
    expect(warned).toHaveLength(1);
    expect(warned[0].msg).toMatch(/must strip that path/);
  });

  test('PUBLIC_URL unset is warned: no request of Twilio is signed for the local default', async () => {
    const lines = await started({ PORT: '3999' });
    const warned = lines.filter((l) => l.level === 40 && l.variable === 'PUBLIC_URL');
    expect(warned).toEqual([expect.objectContaining({ publicUrl: 'http://localhost:3999' })]);
    expect(warned[0].msg).toMatch(/refused \(403\)/);
  });

  test('an empty FLOWS_DIR is warned, naming the variable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-no-flows-'));
    try {
      const lines = await started({ FLOWS_DIR: dir });
      expect(lines.find((l) => l.msg === 'tonewall built')).toMatchObject({ flows: 0, flowIds: [] });
      expect(lines.filter((l) => l.level === 40 && l.variable === 'FLOWS_DIR')).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('an origin Twilio reaches in plain text', () => {
  const warned = async (env: Record<string, string>) => {
    const logs = new LogCapture();
    const app = await buildApp(loadConfig({ ...base, ...env }), { logStream: logs });
    await app.close();
    return logs.lines
      .map((l) => JSON.parse(l) as { level: number; variable?: string; msg?: string })
      .filter((l) => l.level === 40 && /plain http/.test(l.msg ?? ''))
      .map((l) => l.variable);
  };

  test('http to another host is said at start, for each variable', async () => {
    expect(await warned({ PUBLIC_URL: 'http://ivr.example.com' })).toEqual(['PUBLIC_URL', 'MEDIA_PUBLIC_URL']);
    expect(await warned({ PUBLIC_URL: 'https://ivr.example.com', MEDIA_PUBLIC_URL: 'http://10.0.0.7:3000' })).toEqual(['MEDIA_PUBLIC_URL']);
  });

  test('https, or http to this machine (development, the tests), says nothing', async () => {
    expect(await warned({ PUBLIC_URL: 'https://ivr.example.com' })).toEqual([]);
    expect(await warned({ PUBLIC_URL: 'http://127.0.0.1:3000' })).toEqual([]);
    expect(await warned({})).toEqual([]);
  });
});

describe('a metrics listener on every interface', () => {
  const warned = async (env: Record<string, string>) => {
    const logs = new LogCapture();
    const app = await buildApp(loadConfig({ ...base, ...env }), { logStream: logs });
    await app.close();
    return logs.lines
      .map((l) => JSON.parse(l) as { level: number; variable?: string; host?: string })
      .filter((l) => l.level === 40 && l.variable === 'METRICS_HOST')
      .map((l) => l.host);
  };

  test('is said at start without METRICS_TOKEN: by default (HOST 0.0.0.0), and on any wildcard', async () => {
    expect(await warned({})).toEqual(['0.0.0.0']);
    expect(await warned({ HOST: '127.0.0.1', METRICS_HOST: '::' })).toEqual(['::']);
  });

  test('with METRICS_TOKEN set says nothing: the listener then asks for the token', async () => {
    expect(await warned({ METRICS_TOKEN: 'metrics-token-0123456789abcdef-0123456789' })).toEqual([]);
    expect(await warned({ METRICS_HOST: '::', METRICS_TOKEN: 'metrics-token-0123456789abcdef-0123456789' })).toEqual([]);
  });

  test('a loopback or internal METRICS_HOST says nothing', async () => {
    expect(await warned({ METRICS_HOST: '127.0.0.1' })).toEqual([]);
    expect(await warned({ METRICS_HOST: '::1' })).toEqual([]);
    expect(await warned({ METRICS_HOST: '10.0.0.7' })).toEqual([]);
    expect(await warned({ HOST: '127.0.0.1' })).toEqual([]);
  });
});

describe('secrets and SIDs the contract takes as they are', () => {
  const SHORT = { TWILIO_AUTH_TOKEN: 'tok-short-9', AGENT_JWT_SECRET: 'jwt-short-7' };
  const warned = async (env: Record<string, string>) => {
    const logs = new LogCapture();
    const app = await buildApp(loadConfig({ ...base, METRICS_HOST: '127.0.0.1', ...env }), { logStream: logs });
    await app.close();
    return {
      lines: logs.lines,
      variables: logs.lines
        .map((l) => JSON.parse(l) as { level: number; variable?: string; msg?: string })
        .filter((l) => l.level === 40 && /weak/.test(l.msg ?? ''))
        .map((l) => l.variable),
    };
  };

  test('an AccountSid of AC and letters or digits, an auth token and JWT secret of any length: taken', () => {
    const c = loadConfig({ ...base, TWILIO_ACCOUNT_SID: 'ACtest01', ...SHORT });
    expect(c.twilio).toMatchObject({ accountSid: 'ACtest01', authToken: SHORT.TWILIO_AUTH_TOKEN });
    expect(c.agentJwtSecret).toBe(SHORT.AGENT_JWT_SECRET);
  });

  test('an AccountSid of another shape (it goes into REST paths), or an empty secret: refused', () => {
    for (const sid of ['AC', 'AC12/..', 'AC1 2', 'XX' + 'a'.repeat(32)]) expect(refusal({ TWILIO_ACCOUNT_SID: sid }).variable).toBe('TWILIO_ACCOUNT_SID');
    // an empty variable is an unset one: required
    for (const name of ['TWILIO_AUTH_TOKEN', 'AGENT_JWT_SECRET']) expect(refusal({ [name]: '' }).variable).toBe(name);
  });

  test('a short auth token or JWT secret is warned at start, by name, never its text', async () => {
    const { lines, variables } = await warned(SHORT);
    expect(variables).toEqual(['TWILIO_AUTH_TOKEN', 'AGENT_JWT_SECRET']);
    for (const text of Object.values(SHORT)) expect(lines.join('\n')).not.toContain(text);
    expect((await warned({})).variables).toEqual([]);
  });

  test("a processor's short secretEnv is warned at start, naming the variable and processor", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-weak-'));
    const file = path.join(dir, 'processors.yaml');
    fs.writeFileSync(file, 'processors:\n  - name: crm\n    url: https://crm.internal/v1/lead\n    secretEnv: CRM_SECRET\n    fields: [account]\n');
    try {
      const { lines, variables } = await warned({ PROCESSORS_FILE: file, CRM_SECRET: 'crm-short-5' });
      expect(variables).toEqual(['CRM_SECRET']);
      expect(lines.join('\n')).not.toContain('crm-short-5');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
