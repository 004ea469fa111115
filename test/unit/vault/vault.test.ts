import fc from 'fast-check';
import type { Store } from '../../../src/store/types';
import { TonewallError } from '../../../src/errors';
import { type VaultBackend, Vault, fieldAd, generateKeyRingText, isVaultToken, parseKeyRing } from '../../../src/vault';

/** An in-memory backend whose TTLs run on a clock the test moves. */
class MemoryBackend implements VaultBackend {
  readonly entries = new Map<string, { value: string; expiresAt: number }>();
  nowMs = 0;

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: this.nowMs + ttlSeconds * 1000 });
  }

  async get(key: string): Promise<string | null> {
    const e = this.entries.get(key);
    if (e === undefined) return null;
    if (this.nowMs >= e.expiresAt) {
      this.entries.delete(key);
      return null;
    }
    return e.value;
  }

  async del(key: string): Promise<void> {
    this.entries.delete(key);
  }

  advance(seconds: number): void {
    this.nowMs += seconds * 1000;
  }

  only(): [string, string] {
    expect(this.entries.size).toBe(1);
    const [[key, { value }]] = [...this.entries];
    return [key, value];
  }
}

// The service's Store must be usable as a VaultBackend as it is: a compile-time check.
const storeIsABackend = (s: Store): VaultBackend => s;
void storeIsABackend;

const k1 = generateKeyRingText('k1');
const k2 = generateKeyRingText('k2');
const PAN = '4111111111111111';
const CALL = 'CA0123456789abcdef0123456789abcdef';
const OTHER_CALL = 'CAffffffffffffffffffffffffffffffff';

function makeVault(keysText = k1, ttlSeconds = 900) {
  const backend = new MemoryBackend();
  const vault = new Vault({ keys: parseKeyRing(keysText), ttlSeconds, backend });
  return { backend, vault };
}

async function thrown(p: Promise<unknown> | (() => unknown)): Promise<TonewallError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(TonewallError);
    const err = e as TonewallError;
    expect(`${err.message} ${err.stack} ${JSON.stringify(err)}`).not.toContain(PAN);
    return err;
  }
  throw new Error('expected a throw');
}

/** Flip one bit of the byte at `index` of a base64url part. */
function flip(part: string, index: number): string {
  const bytes = Buffer.from(part, 'base64url');
  bytes[index] ^= 0x01;
  return bytes.toString('base64url');
}

describe('Vault', () => {
  it('round-trips a value through an opaque token', async () => {
    const { vault, backend } = makeVault();
    const token = await vault.put(CALL, 'card', PAN);
    expect(isVaultToken(token)).toBe(true);
    expect(token).toMatch(/^vt_[A-Za-z0-9_-]{32}$/);
    expect(token).not.toContain(PAN);
    const [key, envelope] = backend.only();
    expect(key).toBe(`tw:vault:${token}`);
    expect(envelope).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(await vault.get(CALL, 'card', token)).toBe(PAN);
  });

  it('uses a new token and a new nonce every time', async () => {
    const { vault, backend } = makeVault();
    const a = await vault.put(CALL, 'card', PAN);
    const b = await vault.put(CALL, 'card', PAN);
    expect(a).not.toBe(b);
    const envelopes = [...backend.entries.values()].map((e) => e.value);
    expect(envelopes[0].split('.')[2]).not.toBe(envelopes[1].split('.')[2]);
    expect(envelopes[0]).not.toBe(envelopes[1]);
  });

  it("names a slot's value by a token of the call and slot, keyed: the same for each, another for any other, none a guess can make", async () => {
    const { vault, backend } = makeVault();
    const token = vault.slotToken(CALL, 'match:2:1');
    expect(isVaultToken(token)).toBe(true);
    expect(vault.slotToken(CALL, 'match:2:1')).toBe(token);
    const others = [vault.slotToken(CALL, 'match:2:2'), vault.slotToken(OTHER_CALL, 'match:2:1'), makeVault(k2).vault.slotToken(CALL, 'match:2:1')];
    expect(new Set([token, ...others]).size).toBe(4);
    // stored under it, and read by its key with other keys then opened: the value
    expect(await vault.put(CALL, 'account', '20481632', token)).toBe(token);
    expect(vault.keyOf(token)).toBe(`tw:vault:${token}`);
    expect(vault.opened(CALL, 'account', await backend.get(vault.keyOf(token)))).toBe('20481632');
    expect(vault.opened(CALL, 'account', null)).toBeNull();
    // bound to its call and field like any envelope
    expect((await thrown(vault.get(CALL, 'cvv', token))).code).toBe('TW_ERR_VAULT_TAMPERED');
  });

  it('honours keyPrefix', async () => {
    const backend = new MemoryBackend();
    const vault = new Vault({ keys: parseKeyRing(k1), ttlSeconds: 60, backend, keyPrefix: 'test:v:' });
    const token = await vault.put(CALL, 'cvv', '123');
    expect(backend.only()[0]).toBe(`test:v:${token}`);
  });

  it('never writes the plain value into the store, in any encoding', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 3, maxLength: 19 }), async (value) => {
        const { vault, backend } = makeVault();
        await vault.put(CALL, 'card', value);
        const [, envelope] = backend.only();
        for (const form of [value, Buffer.from(value).toString('base64url'), Buffer.from(value).toString('hex')]) {
          expect(envelope).not.toContain(form);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('is gone after its TTL', async () => {
    const { vault, backend } = makeVault(k1, 900);
    const token = await vault.put(CALL, 'card', PAN);
    backend.advance(899);
    expect(await vault.get(CALL, 'card', token)).toBe(PAN);
    backend.advance(1);
    expect(await vault.get(CALL, 'card', token)).toBeNull();
  });

  it('erases on request', async () => {
    const { vault, backend } = makeVault();
    const token = await vault.put(CALL, 'card', PAN);
    await vault.erase(token);
    expect(backend.entries.size).toBe(0);
    expect(await vault.get(CALL, 'card', token)).toBeNull();
  });

  it('returns null for a well-formed token it never issued', async () => {
    const { vault } = makeVault();
    expect(await vault.get(CALL, 'card', 'vt_' + 'A'.repeat(32))).toBeNull();
  });

  it('refuses a malformed token before touching the store', async () => {
    const { vault } = makeVault();
    for (const bad of ['', 'vt_', '../../etc', `vt_${'A'.repeat(32)}:x`, 'tw:call:CA1']) {
      expect((await thrown(vault.get(CALL, 'card', bad))).code).toBe('TW_ERR_VAULT_TOKEN_INVALID');
      expect((await thrown(vault.erase(bad))).code).toBe('TW_ERR_VAULT_TOKEN_INVALID');
    }
  });

  it('refuses another call or another field (wrong associated data)', async () => {
    const { vault } = makeVault();
    const token = await vault.put(CALL, 'card', PAN);
    expect((await thrown(vault.get(OTHER_CALL, 'card', token))).code).toBe('TW_ERR_VAULT_TAMPERED');
    expect((await thrown(vault.get(CALL, 'cvv', token))).code).toBe('TW_ERR_VAULT_TAMPERED');
  });

  it('keeps call and field apart in the associated data', () => {
    expect(fieldAd('CA1', 'a:b')).not.toBe(fieldAd('CA1:a', 'b'));
    expect(fieldAd('CA1', 'a.b')).not.toBe(fieldAd('CA1.a', 'b'));
  });

  it('refuses a rewritten envelope in the store', async () => {
    const { vault, backend } = makeVault();
    const token = await vault.put(CALL, 'card', PAN);
    const [key, envelope] = backend.only();
    const [v, id, nonce, body] = envelope.split('.');
    await backend.set(key, [v, id, flip(nonce, 0), body].join('.'), 60);
    expect((await thrown(vault.get(CALL, 'card', token))).code).toBe('TW_ERR_VAULT_TAMPERED');
  });

  it('rejects invalid options', () => {
    const backend = new MemoryBackend();
    const keys = parseKeyRing(k1);
    for (const ttlSeconds of [0, -1, 1.5, Number.NaN]) {
      expect(() => new Vault({ keys, ttlSeconds, backend })).toThrow(/ttlSeconds/);
    }
  });

  it('never shows keys when serialised', () => {
    const { vault } = makeVault();
    const material = k1.split(':')[1];
    expect(JSON.stringify(vault)).not.toContain(material);
    expect(JSON.parse(JSON.stringify(vault))).toEqual({ ttlSeconds: 900, keys: { ids: ['k1'], primary: 'k1' } });
  });
});

describe('key rotation', () => {
  it('decrypts old values with a rotated ring and encrypts new ones with the new key', async () => {
    const backend = new MemoryBackend();
    const before = new Vault({ keys: parseKeyRing(k1), ttlSeconds: 900, backend });
    const oldToken = await before.put(CALL, 'card', PAN);

    const after = new Vault({ keys: parseKeyRing(`${k2},${k1}`), ttlSeconds: 900, backend });
    expect(await after.get(CALL, 'card', oldToken)).toBe(PAN);

    const newToken = await after.put(CALL, 'cvv', '123');
    expect((await backend.get(`tw:vault:${newToken}`))?.split('.')[1]).toBe('k2');
    expect(await after.get(CALL, 'cvv', newToken)).toBe('123');

    // Once k1 is retired, its values can no longer be read: a coded error, not garbage.
    const retired = new Vault({ keys: parseKeyRing(k2), ttlSeconds: 900, backend });
    expect((await thrown(retired.get(CALL, 'card', oldToken))).code).toBe('TW_ERR_VAULT_KEY_UNKNOWN');
    expect((await thrown(before.get(CALL, 'cvv', newToken))).code).toBe('TW_ERR_VAULT_KEY_UNKNOWN');
  });

  it('refuses a key id that names a different key of the same ring', () => {
    const ring = parseKeyRing(`${k2},${k1}`);
    const envelope = Vault.seal(ring, 'ad', PAN);
    const relabelled = envelope.replace(/^v1\.k2\./, 'v1.k1.');
    expect(() => Vault.open(ring, 'ad', relabelled)).toThrow(expect.objectContaining({ code: 'TW_ERR_VAULT_TAMPERED' }));
  });
});

describe('Vault.seal / Vault.open', () => {
  const ring = parseKeyRing(k1);
  const AD = fieldAd(CALL, 'card');

  function openError(envelope: string, ad = AD): TonewallError {
    try {
      Vault.open(ring, ad, envelope);
    } catch (e) {
      expect(e).toBeInstanceOf(TonewallError);
      const err = e as TonewallError;
      expect(`${err.message} ${err.stack}`).not.toContain(PAN);
      return err;
    }
    throw new Error('open accepted a bad envelope');
  }

  it('round-trips, including non-ASCII and empty text', () => {
    for (const plain of [PAN, '', 'é漢字🙂', 'x'.repeat(10_000)]) {
      expect(Vault.open(ring, 'ad', Vault.seal(ring, 'ad', plain))).toBe(plain);
    }
  });

  it('has the documented shape: 12-byte nonce, ciphertext plus 16-byte tag', () => {
    const [v, id, nonce, body] = Vault.seal(ring, AD, PAN).split('.');
    expect([v, id]).toEqual(['v1', 'k1']);
    expect(Buffer.from(nonce, 'base64url')).toHaveLength(12);
    expect(Buffer.from(body, 'base64url')).toHaveLength(PAN.length + 16);
  });

  it('refuses a single flipped bit anywhere in the nonce, ciphertext or tag', () => {
    const [v, id, nonce, body] = Vault.seal(ring, AD, PAN).split('.');
    const bodyBytes = Buffer.from(body, 'base64url').length;
    for (let i = 0; i < 12; i++) {
      expect(openError([v, id, flip(nonce, i), body].join('.')).code).toBe('TW_ERR_VAULT_TAMPERED');
    }
    for (let i = 0; i < bodyBytes; i++) {
      // i < 16 hits the ciphertext, the rest the tag.
      expect(openError([v, id, nonce, flip(body, i)].join('.')).code).toBe('TW_ERR_VAULT_TAMPERED');
    }
  });

  it('refuses a truncated tag or a swapped body', () => {
    const [v, id, nonce, body] = Vault.seal(ring, AD, PAN).split('.');
    const bytes = Buffer.from(body, 'base64url');
    expect(openError([v, id, nonce, bytes.subarray(0, bytes.length - 4).toString('base64url')].join('.')).code).toBe('TW_ERR_VAULT_TAMPERED');
    const other = Vault.seal(ring, AD, '5555555555554444').split('.')[3];
    expect(openError([v, id, nonce, other].join('.')).code).toBe('TW_ERR_VAULT_TAMPERED');
  });

  it('refuses wrong associated data', () => {
    const envelope = Vault.seal(ring, AD, PAN);
    expect(openError(envelope, fieldAd(OTHER_CALL, 'card')).code).toBe('TW_ERR_VAULT_TAMPERED');
    expect(openError(envelope, fieldAd(CALL, 'expiry')).code).toBe('TW_ERR_VAULT_TAMPERED');
    expect(openError(envelope, '').code).toBe('TW_ERR_VAULT_TAMPERED');
  });

  it('refuses an unknown key id', () => {
    const envelope = Vault.seal(ring, AD, PAN).replace(/^v1\.k1\./, 'v1.k9.');
    expect(openError(envelope).code).toBe('TW_ERR_VAULT_KEY_UNKNOWN');
  });

  it('refuses malformed envelopes', () => {
    const [v, id, nonce, body] = Vault.seal(ring, AD, PAN).split('.');
    const bad = [
      '',
      'garbage',
      [v, id, nonce].join('.'),
      [v, id, nonce, body, 'extra'].join('.'),
      ['v2', id, nonce, body].join('.'),
      [v, id, nonce + '=', body].join('.'),
      [v, id, nonce.slice(0, -2), body].join('.'),
      [v, id, nonce, body + '*'].join('.'),
      [v, id, nonce, ''].join('.'),
      [v, id, nonce, Buffer.alloc(15).toString('base64url')].join('.'),
    ];
    for (const envelope of bad) expect(openError(envelope).code).toBe('TW_ERR_VAULT_ENVELOPE_INVALID');
  });

  it('refuses a non-canonical re-encoding of the same bytes', () => {
    // 16 body bytes + 16 tag = 32 bytes -> 43 base64url chars, whose last char carries 2 spare
    // bits. Setting one still decodes to the same bytes in Node; it must be refused.
    const envelope = Vault.seal(ring, AD, '0123456789012345');
    const [v, id, nonce, body] = envelope.split('.');
    expect(body).toHaveLength(43);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(body[42]);
    const sloppy = body.slice(0, 42) + alphabet[last ^ 0x01];
    expect(Buffer.from(sloppy, 'base64url').equals(Buffer.from(body, 'base64url'))).toBe(true);
    expect(openError([v, id, nonce, sloppy].join('.')).code).toBe('TW_ERR_VAULT_ENVELOPE_INVALID');
  });
});
