import { forwardErasure, parseProcessors, verifyProcessorRequest, verifySignature } from '../../../src/processors';
import { transactionId } from '../../../src/processors/generic-pay';
import { captureLog } from '../../support/fixtures';
import { type Gateway, startGateway } from '../../support/gateway';

const PHONE = '+15551234567';
const SECRET_A = 'secret-a-text-0123456789abcdefghij';

describe('forwardErasure', () => {
  let gw: Gateway;
  beforeEach(async () => {
    gw = await startGateway();
  });
  afterEach(() => gw.close());

  test('posts a signed {subject, receiptId} to each eraseUrl, retried, and reports each outcome', async () => {
    const processors = parseProcessors(
      'p.yaml',
      `processors:
  - { name: a, url: "${gw.url}/a", secretEnv: A, fields: [card], eraseUrl: "${gw.url}/a/erase" }
  - { name: b, url: "${gw.url}/b", secretEnv: B, fields: [card], eraseUrl: "${gw.url}/b/erase" }
  - { name: c, url: "${gw.url}/c", secretEnv: C, fields: [card] }
`,
      { A: SECRET_A, B: 'secret-b-text-0123456789abcdefghij', C: 'secret-c-text-0123456789abcdefghij' },
    );
    gw.answer = (n, req) => (req.path === '/a/erase' && n <= 2 ? { status: 503 } : req.path === '/b/erase' ? { status: 410 } : { status: 204 });
    const { log, lines } = captureLog();
    const out = await forwardErasure(processors, { subject: PHONE, sent: [] }, 'r-1', { backoff: { baseMs: 10, maxMs: 50, maxAttempts: 5 }, log });
    expect(out).toEqual([
      { name: 'a', status: 'forwarded', httpStatus: 204, attempts: 3 },
      { name: 'b', status: 'failed', httpStatus: 410, attempts: 5 },
      { name: 'c', status: 'no-erase-url' },
    ]);
    const a = gw.received.filter((r) => r.path === '/a/erase');
    expect(a).toHaveLength(3);
    expect(JSON.parse(a[0].body)).toEqual({ purpose: 'erasure', subject: PHONE, receiptId: 'r-1' });
    expect(verifySignature(a[2].headers['x-tonewall-signature'] as string, a[2].body, SECRET_A, 60)).toBe(true);
    // signed with the delivery secret, but not a delivery: a charge endpoint that checks purpose refuses it
    expect(verifyProcessorRequest(a[2].headers['x-tonewall-signature'] as string, a[2].body, SECRET_A, 'erasure', 60)).not.toBeNull();
    expect(verifyProcessorRequest(a[2].headers['x-tonewall-signature'] as string, a[2].body, SECRET_A, 'delivery', 60)).toBeNull();
    expect(new Set(a.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    expect(lines.join('')).not.toContain(PHONE.slice(2));
  });

  test('a twilio-generic-pay gateway is told the transaction ids of what reached it, never the subject; one nothing reached is told nothing', async () => {
    const processors = parseProcessors(
      'p.yaml',
      `processors:
  - { name: g, protocol: twilio-generic-pay, url: "${gw.url}/g", usernameEnv: U, passwordEnv: P, method: tokenize, fields: [card, expiry], eraseUrl: "${gw.url}/g/erase", secretEnv: G }
  - { name: h, protocol: twilio-generic-pay, url: "${gw.url}/h", usernameEnv: U, passwordEnv: P, method: tokenize, fields: [card, expiry], eraseUrl: "${gw.url}/h/erase", secretEnv: H }
  - { name: t, url: "${gw.url}/t", secretEnv: T, fields: [card], eraseUrl: "${gw.url}/t/erase" }
`,
      { U: 'user', P: 'password', G: 'secret-g-text-0123456789abcdefghij', H: 'secret-h-text-0123456789abcdefghij', T: 'secret-t-text-0123456789abcdefghij' },
    );
    gw.answer = () => ({ status: 204 });
    const sent = [
      // the call's own values, then a payment round on the same call, and another call
      { callSid: 'CA01', processor: 'g' },
      { callSid: 'CA01', processor: 'g', round: 'pay-2' },
      { callSid: 'CA02', processor: 'g' },
      // what reached the tonewall processor changes nothing in what it is told
      { callSid: 'CA02', processor: 't' },
    ];
    const out = await forwardErasure(processors, { subject: PHONE, sent }, 'r-2', { backoff: { baseMs: 10, maxMs: 50, maxAttempts: 5 } });
    expect(out).toEqual([
      { name: 'g', status: 'forwarded', httpStatus: 204, attempts: 1 },
      { name: 'h', status: 'no-delivery' },
      { name: 't', status: 'forwarded', httpStatus: 204, attempts: 1 },
    ]);
    expect(gw.received.map((r) => r.path).sort()).toEqual(['/g/erase', '/t/erase']);
    const g = gw.received.find((r) => r.path === '/g/erase')!;
    const ids = [transactionId('CA01', 'g'), transactionId('CA01', 'g', 'pay-2'), transactionId('CA02', 'g')];
    expect(new Set(ids).size).toBe(3);
    expect(verifyProcessorRequest(g.headers['x-tonewall-signature'] as string, g.body, 'secret-g-text-0123456789abcdefghij', 'erasure', 60)).toEqual({
      purpose: 'erasure',
      transactionIds: [...ids].sort(),
      receiptId: 'r-2',
    });
    expect(g.body).not.toContain(PHONE.slice(1));
    const t = gw.received.find((r) => r.path === '/t/erase')!;
    expect(JSON.parse(t.body)).toEqual({ purpose: 'erasure', subject: PHONE, receiptId: 'r-2' });
  });
});
