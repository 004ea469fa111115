/**
 * The REST configuration's check on its own, with the account fetch's answers scripted: what is
 * refused (credentials, naming the setting, never the token), what leaves it unverified with an
 * error naming what to fix, what is tried again, and how the retries settle.
 */
import pino from 'pino';
import RestException from 'twilio/lib/base/RestException';
import { ConfigError } from '../../../src/errors';
import { RestCheck, REST_CHECK_RETRY_MAX_MS } from '../../../src/twilio/rest-check';

const SID = 'AC' + '0123456789abcdef'.repeat(2);
const TOKEN = 'the-auth-token-0123456789abcdef';

type Answer = 'ok' | 'other-account' | number | 'network';

function setup(answers: Answer[], apiBaseUrl = 'https://api.twilio.com') {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
  let asked = 0;
  const check = new RestCheck({
    fetchAccount: async () => {
      const a = answers[Math.min(asked++, answers.length - 1)];
      // Twilio's account resource carries the auth token
      if (a === 'ok') return { sid: SID, auth_token: TOKEN };
      if (a === 'other-account') return { sid: 'AC' + 'f'.repeat(32), auth_token: TOKEN };
      if (a === 'network') throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' });
      const code = a === 401 || a === 403 ? 20003 : 20000 + a;
      throw new RestException({ statusCode: a, body: JSON.stringify({ code, message: 'refused', status: a }) });
    },
    accountSid: SID,
    apiBaseUrl,
    log,
    retryFirstMs: 100,
  });
  return { check, lines, asked: () => asked };
}

describe('one try', () => {
  test("Twilio's account for the configured SID: verified", async () => {
    const { check, lines } = setup(['ok']);
    expect(await check.check()).toBe('verified');
    expect(check.verified).toBe(true);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  test.each([
    [401, /answered 401, 20003/],
    [403, /answered 403, 20003/],
  ] as const)('%s: refused, naming TWILIO_AUTH_TOKEN', async (status, message) => {
    const { check } = setup([status]);
    const err = (await check.check().catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ code: 'TW_ERR_CONFIG_INVALID', variable: 'TWILIO_AUTH_TOKEN', message: expect.stringMatching(message) });
    expect(err.message.startsWith('TWILIO_AUTH_TOKEN')).toBe(true);
    expect(err.message).not.toContain(TOKEN);
    expect(check.state).toBe('refused');
  });

  /** the error line the check logged, parsed */
  const errorLine = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 50);

  test.each([
    [404, /answered 404, 20404/],
    [400, /answered 400, 20400/],
    [405, /answered 405/],
  ] as const)(
    '%s: unverified, not refused (an API of calls and recordings alone is not wrong), and an error naming TWILIO_API_BASE_URL',
    async (status, reason) => {
      const { check, lines } = setup([status]);
      expect(await check.check()).toBe('unverified');
      expect(check.verified).toBe(false);
      expect(errorLine(lines)).toMatchObject({ variable: 'TWILIO_API_BASE_URL', twilioStatus: status, reason: expect.stringMatching(reason) });
      expect(lines.join('\n')).not.toContain(TOKEN);
    },
  );

  test('a base URL with a path: the error says every path is appended to it; credentials in the URL are not repeated', async () => {
    const { check, lines } = setup([404], 'https://user:secret-pass@api.twilio.com/2010-04-01');
    expect(await check.check()).toBe('unverified');
    const reason = String(errorLine(lines)?.reason);
    expect(reason).toContain(`GET https://api.twilio.com/2010-04-01/2010-04-01/Accounts/${SID}.json answered 404`);
    expect(reason).toContain('it has a path, /2010-04-01');
    expect(lines.join('\n')).not.toContain('secret-pass');
  });

  test('a 2xx for another account (not Twilio, or not this account): unverified, an error naming TWILIO_API_BASE_URL', async () => {
    const { check, lines } = setup(['other-account']);
    expect(await check.check()).toBe('unverified');
    expect(check.verified).toBe(false);
    expect(errorLine(lines)).toMatchObject({ variable: 'TWILIO_API_BASE_URL', reason: expect.stringContaining('another account') });
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  test.each([503, 500, 429, 'network'] as const)('%s: unverified (tried again later), logged without the token', async (answer) => {
    const { check, lines } = setup([answer]);
    expect(await check.check()).toBe('unverified');
    expect(check.verified).toBe(false);
    expect(lines.some((l) => l.includes('not verified yet'))).toBe(true);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });
});

describe('retries', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('tried again with backoff until Twilio answers: then verified, and no more tries', async () => {
    const { check, asked } = setup(['network', 503, 'network', 'ok']);
    await check.check();
    check.start();
    // waits of 50-100, 100-200, 200-400 ms (half fixed, half jitter)
    await jest.advanceTimersByTimeAsync(100);
    expect(asked()).toBe(2);
    await jest.advanceTimersByTimeAsync(200);
    expect(asked()).toBe(3);
    await jest.advanceTimersByTimeAsync(400);
    expect(asked()).toBe(4);
    expect(check.verified).toBe(true);
    await jest.advanceTimersByTimeAsync(REST_CHECK_RETRY_MAX_MS * 2);
    expect(asked()).toBe(4);
  });

  test('a retry refused: the handlers hear it once, with the setting; a handler that comes later hears it at once', async () => {
    const { check, asked } = setup(['network', 401]);
    await check.check();
    const heard: string[] = [];
    check.onRefused((err) => heard.push(err.variable));
    check.start();
    await jest.advanceTimersByTimeAsync(REST_CHECK_RETRY_MAX_MS * 2);
    expect(heard).toEqual(['TWILIO_AUTH_TOKEN']);
    expect(check.state).toBe('refused');
    expect(asked()).toBe(2);
    check.onRefused((err) => heard.push(err.variable));
    expect(heard).toEqual(['TWILIO_AUTH_TOKEN', 'TWILIO_AUTH_TOKEN']);
  });

  test('the wait never grows past REST_CHECK_RETRY_MAX_MS, and stop() ends the tries', async () => {
    const { check, asked } = setup(['network']);
    await check.check();
    check.start();
    await jest.advanceTimersByTimeAsync(10 * REST_CHECK_RETRY_MAX_MS);
    const before = asked();
    await jest.advanceTimersByTimeAsync(REST_CHECK_RETRY_MAX_MS);
    expect(asked()).toBeGreaterThan(before);
    check.stop();
    const stopped = asked();
    await jest.advanceTimersByTimeAsync(5 * REST_CHECK_RETRY_MAX_MS);
    expect(asked()).toBe(stopped);
  });

  test('verified at the first try: start() schedules nothing', async () => {
    const { check, asked } = setup(['ok']);
    await check.check();
    check.start();
    await jest.advanceTimersByTimeAsync(5 * REST_CHECK_RETRY_MAX_MS);
    expect(asked()).toBe(1);
  });
});
