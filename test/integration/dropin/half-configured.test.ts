/**
 * A drop-in capture needs CAPTURE_RETURN_URLS and CAPTURE_RESULT_SECRET both: with one alone the
 * capture route refuses every call (an apology and a hangup), which an operator would otherwise
 * first learn from a caller. The service says so as it starts, naming the one missing.
 */
import { RESULT_SECRET } from '../../support/dropin';
import { startHarness } from '../../support/harness';

async function startupWarnings(env: Record<string, string>): Promise<unknown[]> {
  const h = await startHarness({ store: 'embedded', env });
  try {
    return h.logs.lines
      .map((l) => JSON.parse(l) as { level?: number; variable?: string; msg?: string })
      .filter((l) => (l.level ?? 0) >= 40 && (l.variable === 'CAPTURE_RETURN_URLS' || l.variable === 'CAPTURE_RESULT_SECRET'))
      .map((l) => l.variable);
  } finally {
    await h.close();
  }
}

it('return URLs without a result secret, or a secret without return URLs: a warning at start names the missing one; both, or neither: none', async () => {
  expect(await startupWarnings({ CAPTURE_RETURN_URLS: 'https://shop.example.com/paid' })).toEqual(['CAPTURE_RESULT_SECRET']);
  expect(await startupWarnings({ CAPTURE_RESULT_SECRET: RESULT_SECRET })).toEqual(['CAPTURE_RETURN_URLS']);
  expect(await startupWarnings({ CAPTURE_RETURN_URLS: 'https://shop.example.com/paid', CAPTURE_RESULT_SECRET: RESULT_SECRET })).toEqual([]);
  expect(await startupWarnings({})).toEqual([]);
});
