/**
 * An entry's `actor` names a user by a keyed digest of their `sub`, never the `sub`: the same
 * user always maps to the same actor under one key, another key gives another, and the PII
 * guard takes `actor` only in the form the trail mints.
 */
import { AUDIT_ACTOR, AuditKey, AuditKeyRing, AuditTrail, assertNoPersonalData } from '../../../src/audit';
import { EmbeddedStore, makeKeys } from '../../../src/store';

const K1 = new AuditKey(Buffer.alloc(32, 1));
const K2 = new AuditKey(Buffer.alloc(32, 2));
const trailWith = (key: AuditKey | AuditKeyRing) => new AuditTrail(new EmbeddedStore(), makeKeys('t:'), { key });

describe('AuditTrail.actor', () => {
  test('is the role and a 16-hex digest of sub, the same for the same user and key, and holds no sub', () => {
    const trail = trailWith(K1);
    const a = trail.actor({ role: 'agent', sub: 'agent-1234' });
    expect(a).toMatch(AUDIT_ACTOR);
    expect(a).toBe(trailWith(K1).actor({ role: 'agent', sub: 'agent-1234' }));
    expect(a).toBe(`agent:${K1.actorDigest('agent-1234')}`);
    expect(a).not.toContain('1234');
    expect(trail.actor({ role: 'agent', sub: 'agent-1235' })).not.toBe(a);
    expect(trail.actor({ role: 'supervisor', sub: 'agent-1234' })).toBe(`supervisor:${a.slice('agent:'.length)}`);
    expect(trailWith(K2).actor({ role: 'agent', sub: 'agent-1234' })).not.toBe(a);
  });

  test('actorDigests gives the digest under every key of the ring, by kid', () => {
    const trail = trailWith(new AuditKeyRing([K2, K1]));
    expect(trail.actorDigests('agent-1234')).toEqual({ [K2.kid]: K2.actorDigest('agent-1234'), [K1.kid]: K1.actorDigest('agent-1234') });
    expect(trail.actor({ role: 'admin', sub: 'agent-1234' })).toBe(`admin:${K2.actorDigest('agent-1234')}`);
  });

  test('an entry may carry the minted actor, digit runs and all, and nothing else under that key', async () => {
    const trail = trailWith(K1);
    // a digest with a run of 4 digits is still taken: its shape is checked, not its digits
    expect(() => assertNoPersonalData({ actor: 'agent:0123456789abcdef' })).not.toThrow();
    await trail.append('CA' + 'a'.repeat(32), { type: 'agent.accepted', actor: trail.actor({ role: 'agent', sub: 'agent-1234' }) });
    for (const bad of ['agent-1234', 'agent:agent-1234', 'alice', 'agent:0123456789ABCDEF', 'root:0123456789abcdef', 'agent:0123456789abcdef0']) {
      expect(() => assertNoPersonalData({ actor: bad })).toThrow();
    }
    await expect(trail.append('CA' + 'a'.repeat(32), { type: 'agent.accepted', actor: 'agent-1234' })).rejects.toThrow();
    expect(await trail.list('CA' + 'a'.repeat(32))).toHaveLength(1);
  });
});
