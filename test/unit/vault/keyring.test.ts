import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { TonewallError } from '../../../src/errors';
import { KeyRing, generateKeyRingText, parseKeyRing } from '../../../src/vault';

const b64 = (n: number) => randomBytes(n).toString('base64');

/** Parse, expecting failure; returns the error so its text can be checked for leaks. */
function parseError(text: string): TonewallError {
  try {
    parseKeyRing(text);
  } catch (e) {
    expect(e).toBeInstanceOf(TonewallError);
    return e as TonewallError;
  }
  throw new Error('parseKeyRing accepted invalid text');
}

describe('parseKeyRing', () => {
  it('parses one key', () => {
    const ring = parseKeyRing(`k1:${b64(32)}`);
    expect(ring.primary.id).toBe('k1');
    expect(ring.ids).toEqual(['k1']);
  });

  it('parses several keys; the first encrypts, all are found', () => {
    const ring = parseKeyRing(` k2:${b64(32)} ,\nk1:${b64(32)} `);
    expect(ring.primary.id).toBe('k2');
    expect(ring.ids).toEqual(['k2', 'k1']);
    expect(ring.get('k1')?.id).toBe('k1');
    expect(ring.get('k3')).toBeUndefined();
  });

  it('accepts unpadded base64url key text', () => {
    const ring = parseKeyRing(`k1:${randomBytes(32).toString('base64url')}`);
    expect(ring.primary.id).toBe('k1');
  });

  it('accepts what generateKeyRingText makes', () => {
    expect(parseKeyRing(generateKeyRingText('demo')).primary.id).toBe('demo');
  });

  const material = b64(32);
  const wrongLength = b64(16);
  const notBase64 = 'this is not base64 at all!!!!!!!!!!!!!!!!!!!';
  // Right length, but a character Node's lenient decoder would silently skip.
  const sloppy = material.slice(0, 20) + '*' + material.slice(21);
  const cases: ReadonlyArray<[string, string, RegExp, string[]]> = [
    ['empty', '', /empty/, []],
    ['only spaces', '   ', /empty/, []],
    ['an empty entry', `k1:${material},`, /entry 2 is empty/, [material]],
    ['no colon', material, /entry 1 is not id:base64/, [material]],
    ['an empty id', `:${material}`, /entry 1 has an invalid id/, [material]],
    ['an id with a dot', `k.1:${material}`, /invalid id/, [material]],
    ['bad base64', `k1:${notBase64}`, /entry 1 is not valid base64/, [notBase64]],
    ['sloppy base64', `k1:${sloppy}`, /not valid base64/, [sloppy, material.slice(0, 20)]],
    ['wrong length', `k1:${wrongLength}`, /entry 1 is not 32 bytes/, [wrongLength]],
    ['empty key', 'k1:', /not (valid base64|32 bytes)/, []],
    ['a duplicate id', `k1:${material},k1:${b64(32)}`, /entry 2 repeats an earlier key id/, [material]],
  ];

  it.each(cases)('refuses %s, naming VAULT_KEYS and never the key text', (_label, text, why, secrets) => {
    const err = parseError(text);
    expect(err.code).toBe('TW_ERR_VAULT_KEYS_INVALID');
    expect(err.message).toMatch(/^VAULT_KEYS/);
    expect(err.message).toMatch(why);
    for (const s of secrets) {
      expect(err.message).not.toContain(s);
      expect(err.stack ?? '').not.toContain(s);
      expect(JSON.stringify(err)).not.toContain(s);
    }
  });

  it('never shows key bytes when printed or serialised', () => {
    const key = randomBytes(32);
    const ring = parseKeyRing(`k1:${key.toString('base64')}`);
    const shown = JSON.stringify(ring) + String(ring) + inspect(ring, { depth: 5 });
    expect(shown).not.toContain(key.toString('base64'));
    expect(shown).not.toContain(key.toString('hex'));
    expect(JSON.parse(JSON.stringify(ring))).toEqual({ ids: ['k1'], primary: 'k1' });
  });

  it('a ring needs at least one key', () => {
    expect(() => new KeyRing([])).toThrow(/VAULT_KEYS/);
  });
});
