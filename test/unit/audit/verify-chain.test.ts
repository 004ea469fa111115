/**
 * verifyChain checks each entry with the key its `kid` names: a forged kid never passes as a
 * key change, and a trail sealed before a rotation verifies while its key stays in the ring.
 */
import { AuditKey, AuditKeyRing, type AuditEntry, GENESIS_HASH, sealEntry, verifyChain } from '../../../src/audit';

const CALL = 'CA0123456789abcdef0123456789abcdef';
const OLD = new AuditKey(Buffer.alloc(32, 1));
const NEW = new AuditKey(Buffer.alloc(32, 2));
const GONE = new AuditKey(Buffer.alloc(32, 3));
const TYPES = ['call.started', 'recording.paused', 'recording.pause-failed', 'capture.started', 'call.ended'];

/** a trail sealed entry by entry with `keyFor(seq)` */
function trail(keyFor: (seq: number) => AuditKey, types = TYPES): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (const type of types) {
    const seq = entries.length + 1;
    const key = keyFor(seq);
    const prev = entries.length ? entries[entries.length - 1].hash : GENESIS_HASH;
    entries.push(sealEntry(key, CALL, { seq, at: `2024-01-01T00:00:0${seq}.000Z`, type, kid: key.kid, prev }));
  }
  return entries;
}

describe('verifyChain', () => {
  test('an edited entry with a forged kid is unknown-key, never a key change', () => {
    const entries = trail(() => OLD);
    entries[2] = { ...entries[2], type: 'recording.paused', kid: 'ffffffffffffffff' };
    expect(verifyChain(OLD, CALL, entries)).toEqual({ seq: 3, reason: 'unknown-key' });
    expect(verifyChain(new AuditKeyRing([NEW, OLD]), CALL, entries)).toEqual({ seq: 3, reason: 'unknown-key' });
  });

  test("an edited entry whose kid names another key of the ring fails that key's MAC", () => {
    const entries = trail(() => OLD);
    entries[2] = { ...entries[2], type: 'recording.paused', kid: NEW.kid };
    expect(verifyChain(new AuditKeyRing([NEW, OLD]), CALL, entries)).toEqual({ seq: 3, reason: 'mac' });
    entries[2] = { ...entries[2], kid: OLD.kid };
    expect(verifyChain(new AuditKeyRing([NEW, OLD]), CALL, entries)).toEqual({ seq: 3, reason: 'mac' });
  });

  test('a trail sealed with the old key verifies with new,old; one sealed across the rotation too', () => {
    expect(
      verifyChain(
        new AuditKeyRing([NEW, OLD]),
        CALL,
        trail(() => OLD),
      ),
    ).toBeNull();
    expect(
      verifyChain(
        new AuditKeyRing([NEW, OLD]),
        CALL,
        trail((seq) => (seq <= 2 ? OLD : NEW)),
      ),
    ).toBeNull();
    expect(
      verifyChain(
        NEW,
        CALL,
        trail(() => NEW),
      ),
    ).toBeNull();
  });

  test('a trail sealed with a key no longer in the ring is unknown-key at its first entry so sealed', () => {
    expect(
      verifyChain(
        new AuditKeyRing([NEW, OLD]),
        CALL,
        trail(() => GONE),
      ),
    ).toEqual({ seq: 1, reason: 'unknown-key' });
    expect(
      verifyChain(
        NEW,
        CALL,
        trail((seq) => (seq <= 2 ? NEW : GONE)),
      ),
    ).toEqual({ seq: 3, reason: 'unknown-key' });
    expect(
      verifyChain(
        NEW,
        CALL,
        trail(() => OLD),
      ),
    ).toEqual({ seq: 1, reason: 'unknown-key' });
  });

  test('the ring seals with its first key', () => {
    const ring = new AuditKeyRing([NEW, OLD]);
    expect(ring.primary).toBe(NEW);
    expect(ring.get(OLD.kid)).toBe(OLD);
    expect(ring.get(GONE.kid)).toBeUndefined();
    expect(() => new AuditKeyRing([])).toThrow();
  });
});
