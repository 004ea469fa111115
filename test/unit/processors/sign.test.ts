import { createHmac } from 'node:crypto';
import { backoffDelay, signatureHeader, verifyProcessorRequest, verifySignature } from '../../../src/processors';

const body = '{"callSid":"CA1","fields":{}}';
const secret = '  text with spaces, kept as it is ';

test('the header is t=<unix>,v1=<hex hmac of "t.body"> keyed with the secret text as it is', () => {
  const h = signatureHeader(body, secret, 1_700_000_000);
  const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
  expect(h).toBe(`t=1700000000,v1=${expected}`);
});

test('verifySignature accepts a fresh signature and refuses anything else', () => {
  const now = Math.floor(Date.now() / 1000);
  const h = signatureHeader(body, secret, now);
  expect(verifySignature(h, body, secret, 300)).toBe(true);
  expect(verifySignature(h, body + ' ', secret, 300)).toBe(false);
  expect(verifySignature(h, body, secret.trim(), 300)).toBe(false);
  expect(verifySignature(signatureHeader(body, secret, now - 301), body, secret, 300)).toBe(false);
  expect(verifySignature(signatureHeader(body, secret, now - 10), body, secret, 300)).toBe(true);
  expect(verifySignature(undefined, body, secret, 300)).toBe(false);
  expect(verifySignature('t=abc,v1=00', body, secret, 300)).toBe(false);
  expect(verifySignature(h.replace(/v1=../, 'v1=zz'), body, secret, 300)).toBe(false);
  // a second v1 (key rotation) is accepted if either matches
  expect(verifySignature(`${h},v1=${'0'.repeat(64)}`, body, secret, 300)).toBe(true);
});

test('verifyProcessorRequest: a signed body is accepted only at the endpoint its purpose names, a delivery only with a signed key', () => {
  const now = 1_700_000_000;
  const signed = (b: unknown) => {
    const raw = JSON.stringify(b);
    return [signatureHeader(raw, secret, now), raw] as const;
  };
  const [dh, delivery] = signed({ purpose: 'delivery', idempotencyKey: 'k1', callSid: 'CA1', subject: '+15551234567', fields: {} });
  expect(verifyProcessorRequest(dh, delivery, secret, 'delivery', 300, now)).toMatchObject({ purpose: 'delivery', idempotencyKey: 'k1' });
  // the replay of the finding: a delivery, validly signed, sent to eraseUrl
  expect(verifyProcessorRequest(dh, delivery, secret, 'erasure', 300, now)).toBeNull();
  const [eh, erasure] = signed({ purpose: 'erasure', subject: '+15551234567', receiptId: 'r-1' });
  expect(verifyProcessorRequest(eh, erasure, secret, 'erasure', 300, now)).toMatchObject({ subject: '+15551234567' });
  expect(verifyProcessorRequest(eh, erasure, secret, 'delivery', 300, now)).toBeNull();
  // a body from before purpose was signed is refused at both
  const [oh, old] = signed({ subject: '+15551234567', receiptId: 'r-1' });
  expect(verifyProcessorRequest(oh, old, secret, 'erasure', 300, now)).toBeNull();
  const [nh, keyless] = signed({ purpose: 'delivery', callSid: 'CA1', subject: null, fields: {} });
  expect(verifyProcessorRequest(nh, keyless, secret, 'delivery', 300, now)).toBeNull();
  // the signature is still checked first
  expect(verifyProcessorRequest(dh, delivery, 'another secret', 'delivery', 300, now)).toBeNull();
  expect(verifyProcessorRequest(dh, delivery, secret, 'delivery', 300, now + 301)).toBeNull();
  const [ah, arr] = signed([{ purpose: 'delivery' }]);
  expect(verifyProcessorRequest(ah, arr, secret, 'delivery', 300, now)).toBeNull();
});

test('backoff: 0.5 s doubling, capped, ±20% jitter', () => {
  const b = { baseMs: 500, maxMs: 30_000, maxAttempts: 8 };
  expect([1, 2, 3, 4].map((n) => backoffDelay(n, b, () => 0.5))).toEqual([500, 1000, 2000, 4000]);
  expect(backoffDelay(1, b, () => 0)).toBe(400);
  expect(backoffDelay(1, b, () => 0.9999999)).toBe(600);
  expect(backoffDelay(20, b, () => 0.5)).toBe(30_000);
});
