/**
 * Drop-in capture's pure parts: the return URL allow-list (CAPTURE_RETURN_URLS, parsed in
 * config.ts), the result's signature in the query string, and what a result holds.
 */
import { ConfigError, loadConfig } from '../../../src/config';
import { allowedReturnUrl } from '../../../src/dropin/return-urls';
import { canonicalParams, RESULT_SIGNATURE_PARAM, signedReturnUrl, signResult, verifyCaptureResult } from '../../../src/dropin/result-signature';
import { minimalEnv } from '../../support/env';

const base = { ...minimalEnv() };
const SECRET = 's'.repeat(40);

describe('CAPTURE_RETURN_URLS and CAPTURE_RESULT_SECRET', () => {
  test('parsed into a list; unset: empty, and no secret', () => {
    expect(loadConfig(base).capture).toEqual({ returnUrls: [], resultSecret: undefined });
    const c = loadConfig({ ...base, CAPTURE_RETURN_URLS: 'https://shop.example.com, http://localhost:8080/ivr/return', CAPTURE_RESULT_SECRET: SECRET });
    expect(c.capture).toEqual({ returnUrls: ['https://shop.example.com', 'http://localhost:8080/ivr/return'], resultSecret: SECRET });
  });

  test.each([
    ['http://shop.example.com', 'https'],
    ['shop.example.com', 'absolute'],
    ['https://shop.example.com/return?x=1', 'query'],
    ['https://user:pw@shop.example.com', 'credentials'],
  ])('refuses %s', (entry, why) => {
    let err: unknown;
    try {
      loadConfig({ ...base, CAPTURE_RETURN_URLS: entry });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('CAPTURE_RETURN_URLS');
    expect((err as ConfigError).message).toContain(why);
  });

  test('the secret is a key of its own: long enough, not another secret, not a processor key', () => {
    expect(() => loadConfig({ ...base, CAPTURE_RESULT_SECRET: 'short' })).toThrow(/CAPTURE_RESULT_SECRET/);
    expect(() => loadConfig({ ...base, CAPTURE_RESULT_SECRET: base.AGENT_JWT_SECRET })).toThrow(
      /CAPTURE_RESULT_SECRET must not be the same text as AGENT_JWT_SECRET/,
    );
  });
});

describe('allowedReturnUrl', () => {
  const list = ['https://shop.example.com/ivr/return', 'https://studio.example.org', 'http://127.0.0.1:8080/back'];
  test.each([
    'https://shop.example.com/ivr/return',
    'https://shop.example.com/ivr/return?order=42',
    'https://shop.example.com/ivr/return/step2',
    'https://studio.example.org/v1/Flows/FW1?FlowEvent=return',
    'http://127.0.0.1:8080/back',
  ])('allows %s', (u) => expect(allowedReturnUrl(u, list)?.toString()).toBe(new URL(u).toString()));
  test.each([
    'https://shop.example.com/ivr/returnx',
    'https://shop.example.com/ivr',
    'https://shop.example.com.evil.net/ivr/return',
    'http://shop.example.com/ivr/return',
    'https://studio.example.org:8443/x',
    'https://user@studio.example.org/x',
    'http://127.0.0.1:8081/back',
    'javascript:alert(1)',
    '/ivr/return',
    '',
    undefined,
    ['https://studio.example.org'],
    'https://studio.example.org/' + 'a'.repeat(3000),
    // encoded separators a decoding proxy would turn into a path outside the allowed prefix
    'https://shop.example.com/ivr/return/..%2F..%2Fadmin',
    'https://shop.example.com/ivr/return/%5c..%5cadmin',
    'https://shop.example.com/ivr/return/%2e%2e/admin',
    // encoded twice, for a server that decodes twice
    'https://shop.example.com/ivr/return/%252e%252e/admin',
    'https://shop.example.com/ivr/return/..%252Fadmin',
    // a dot segment with parameters, which a servlet container resolves after dropping them
    'https://shop.example.com/ivr/return/..;/admin',
    'https://shop.example.com/ivr/return/..;x=1/..;/admin',
    'https://studio.example.org/v1/Flows/FW1/..;/FW2',
  ])('refuses %s', (u) => expect(allowedReturnUrl(u, list)).toBeUndefined());
});

describe('the signed result', () => {
  const now = 1_800_000_000;
  const params = { CallSid: 'CA' + '1'.repeat(32), Result: 'success', card_masked: '************1111', 'a b': 'x&y=z' };

  test('canonical: sorted, percent-encoded, without the signature', () => {
    expect(canonicalParams({ b: '2', a: '1 2', [RESULT_SIGNATURE_PARAM]: 'x' })).toBe('a=1%202&b=2');
  });

  test('verifies, and refuses a changed parameter, an added one, another key, a stale or future t', () => {
    const sig = signResult(params, SECRET, now);
    expect(sig).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifyCaptureResult(params, sig, SECRET, { now })).toBe(true);
    expect(verifyCaptureResult({ ...params, Result: 'failed' }, sig, SECRET, { now })).toBe(false);
    expect(verifyCaptureResult({ ...params, extra: '1' }, sig, SECRET, { now })).toBe(false);
    expect(verifyCaptureResult(params, sig, 'o'.repeat(40), { now })).toBe(false);
    expect(verifyCaptureResult(params, sig, SECRET, { now: now + 301 })).toBe(false);
    expect(verifyCaptureResult(params, sig, SECRET, { now: now - 301 })).toBe(false);
    expect(verifyCaptureResult(params, undefined, SECRET, { now })).toBe(false);
    expect(verifyCaptureResult(params, 't=1800000000,v1=zz', SECRET, { now })).toBe(false);
  });

  test("in the return URL: the app's own query kept and signed with the result", () => {
    const url = new URL(signedReturnUrl('https://studio.example.org/v1/Flows/FW1?FlowEvent=return', params, SECRET, now));
    const q = Object.fromEntries(url.searchParams);
    const { [RESULT_SIGNATURE_PARAM]: sig, ...rest } = q;
    expect(rest).toEqual({ FlowEvent: 'return', ...params });
    expect(verifyCaptureResult(rest, sig, SECRET, { now })).toBe(true);
    const { FlowEvent: _dropped, ...withoutAppQuery } = rest;
    expect(verifyCaptureResult(withoutAppQuery, sig, SECRET, { now })).toBe(false);
  });

  test('a name given twice is refused, so a value put in front of a signed one cannot ride on its signature', () => {
    const url = new URL(signedReturnUrl('https://shop.example.com/ivr/return?order=42', { ...params, Result: 'caller-interrupted' }, SECRET, now));
    const sig = url.searchParams.get(RESULT_SIGNATURE_PARAM);
    url.searchParams.delete(RESULT_SIGNATURE_PARAM);
    expect(verifyCaptureResult(url.searchParams, sig, SECRET, { now })).toBe(true);
    const smuggled = new URLSearchParams('Result=success&' + url.searchParams.toString());
    expect(smuggled.get('Result')).toBe('success');
    expect(verifyCaptureResult(smuggled, sig, SECRET, { now })).toBe(false);
  });

  test("the app's return URL cannot bring result values of its own, nor a parameter twice", () => {
    const url = new URL(
      signedReturnUrl(
        'https://shop.example.com/ivr/return?order=1&order=2&card_token=vt_planted&Result=success',
        { CallSid: params.CallSid, Result: 'too-many-failed-attempts', card_masked: '****' },
        SECRET,
        now,
      ),
    );
    expect(url.searchParams.getAll('order')).toEqual(['2']);
    expect(url.searchParams.get('card_token')).toBeNull();
    expect(url.searchParams.getAll('Result')).toEqual(['too-many-failed-attempts']);
    const sig = url.searchParams.get(RESULT_SIGNATURE_PARAM);
    url.searchParams.delete(RESULT_SIGNATURE_PARAM);
    expect(verifyCaptureResult(url.searchParams, sig, SECRET, { now })).toBe(true);
  });
});
