import { forwardErasure, parseProcessors, verifyProcessorRequest, verifySignature } from '../../../src/processors';
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
    const out = await forwardErasure(processors, PHONE, 'r-1', { backoff: { baseMs: 10, maxMs: 50, maxAttempts: 5 }, log });
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
});
