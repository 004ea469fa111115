/**
 * What a drop-in capture's <Gather> actions carry (dropin/action-query.ts): the return URL, the
 * recordings it holds paused and when it was written, small, in characters nothing re-encodes,
 * read back only in the one form it was written (one of the untimed version 1 as untimed, its
 * context kept for the return); and where it goes in the TwiML (plain calls' actions unchanged).
 */
import { randomBytes } from 'node:crypto';
import type { CallSession } from '../../../src/calls/session';
import { ACTION_QUERY_PARAM, decodeActionQuery, dropinQueryOf, encodeActionQuery, MAX_ACTION_SIDS } from '../../../src/dropin/action-query';
import { DropinErrors } from '../../../src/errors';
import type { Verb } from '../../../src/flows/verbs';
import { renderVerbs } from '../../../src/twilio/twiml';

const RETURN = 'https://shop.example.com/ivr/paid?order=42&note=caf%C3%A9';
const sid = () => 'RE' + randomBytes(16).toString('hex');
/** a time with milliseconds, which the query drops */
const AT = new Date('2026-12-07T10:20:30.456Z');
const AT_SECONDS = 1796638830;
const T = AT_SECONDS.toString(36);

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** the same bytes to a lenient decoder: the last character's lowest (unused) bit set */
const withLowBitSet = (s: string) => s.slice(0, -1) + ALPHABET[ALPHABET.indexOf(s.at(-1)!) | 1];

/** the query as Fastify hands it to a route: the value percent-decoded */
const parsed = (query: string): Record<string, string> => Object.fromEntries(new URLSearchParams(query));

describe('encode and decode', () => {
  test.each([0, 1, 2, 16, MAX_ACTION_SIDS])('%d paused recordings: read back exactly, with the second it was written', (n) => {
    const paused = Array.from({ length: n }, sid);
    const q = encodeActionQuery({ returnUrl: RETURN, paused }, AT);
    expect(q.startsWith(`${ACTION_QUERY_PARAM}=2.${T}.`)).toBe(true);
    expect(decodeActionQuery(parsed(q))).toEqual({ context: { returnUrl: RETURN, paused }, issuedAtSeconds: AT_SECONDS });
  });

  test('one written before the query held its time (version 1): read as untimed, its return URL and SIDs kept for the return', () => {
    const paused = [sid(), sid()];
    const timed = parsed(encodeActionQuery({ returnUrl: RETURN, paused }, AT))[ACTION_QUERY_PARAM];
    const [, , url, sids] = timed.split('.');
    expect(decodeActionQuery({ [ACTION_QUERY_PARAM]: `1.${url}.${sids}` })).toEqual({ context: { returnUrl: RETURN, paused }, untimed: true });
    expect(decodeActionQuery({ [ACTION_QUERY_PARAM]: `1.${url}` })).toEqual({ context: { returnUrl: RETURN, paused: [] }, untimed: true });
    // not one version 1 wrote either (a time in it): nothing at all
    expect(decodeActionQuery({ [ACTION_QUERY_PARAM]: `1.${T}.${url}.${sids}` })).toBeUndefined();
  });

  test('one parameter, in characters no proxy or Twilio re-encodes: the URL signed is the URL sent', () => {
    const q = encodeActionQuery({ returnUrl: 'https://shop.example.com/a b?x=é&y=%2F#', paused: [sid(), sid()] }, AT);
    expect(q).toMatch(new RegExp(`^${ACTION_QUERY_PARAM}=[A-Za-z0-9_.-]+$`));
    expect(new URLSearchParams(q).toString()).toBe(q);
  });

  test('small: a SID costs 22 characters (16 bytes), not its 34', () => {
    const without = encodeActionQuery({ returnUrl: RETURN, paused: [] }, AT).length;
    const withSixteen = encodeActionQuery({ returnUrl: RETURN, paused: Array.from({ length: 16 }, sid) }, AT).length;
    // 16 SIDs: 256 bytes, 342 base64url characters and the separator
    expect(withSixteen - without).toBe(343);
  });

  test('refuses to carry what is not a recording SID, or more than the bound: a coded error, never a silent drop', () => {
    for (const bad of ['CA' + 'a'.repeat(32), 'RE' + 'A'.repeat(32), 'RE' + 'a'.repeat(31), 'Twilio.CURRENT']) {
      expect(() => encodeActionQuery({ returnUrl: RETURN, paused: [bad] }, AT)).toThrow(expect.objectContaining({ code: DropinErrors.actionSids.code }));
    }
    expect(() => encodeActionQuery({ returnUrl: RETURN, paused: Array.from({ length: MAX_ACTION_SIDS + 1 }, sid) }, AT)).toThrow(
      expect.objectContaining({ code: DropinErrors.actionSids.code }),
    );
  });

  describe('reads only what the encoder writes', () => {
    const good = encodeActionQuery({ returnUrl: RETURN, paused: [sid()] }, AT);
    const value = parsed(good)[ACTION_QUERY_PARAM];
    const [, , url, sids] = value.split('.');
    const b64 = (b: Buffer) => b.toString('base64url');

    test.each([
      ['no query', undefined],
      ['no parameter (a plain call)', {}],
      ['the parameter given twice', { [ACTION_QUERY_PARAM]: [value, value] }],
      ['another version', { [ACTION_QUERY_PARAM]: `3.${T}.${url}.${sids}` }],
      ['no time', { [ACTION_QUERY_PARAM]: `2.${url}.${sids}` }],
      ['an empty time', { [ACTION_QUERY_PARAM]: `2..${url}.${sids}` }],
      ['a time with a leading zero', { [ACTION_QUERY_PARAM]: `2.0${T}.${url}.${sids}` }],
      ['a time in capitals', { [ACTION_QUERY_PARAM]: `2.${T.toUpperCase()}.${url}.${sids}` }],
      ['a time of more than 8 digits', { [ACTION_QUERY_PARAM]: `2.${'z'.repeat(9)}.${url}.${sids}` }],
      ['no return URL', { [ACTION_QUERY_PARAM]: `2.${T}` }],
      ['an empty return URL', { [ACTION_QUERY_PARAM]: `2.${T}..${sids}` }],
      ['an empty SID part', { [ACTION_QUERY_PARAM]: `2.${T}.${url}.` }],
      ['a part too many', { [ACTION_QUERY_PARAM]: `${value}.${sids}` }],
      ['padding', { [ACTION_QUERY_PARAM]: `2.${T}.${url}.${sids}==` }],
      ['standard base64 characters', { [ACTION_QUERY_PARAM]: `2.${T}.${url}.${sids.replace(/-/g, '+').replace(/_/g, '/')}+` }],
      // 17 bytes leave 4 unused bits in the last character: set, Node's decoder drops them
      ['a non-canonical final character', { [ACTION_QUERY_PARAM]: `2.${T}.${withLowBitSet(b64(Buffer.from('https://x.example')))}` }],
      ['part of a SID', { [ACTION_QUERY_PARAM]: `2.${T}.${url}.${b64(randomBytes(24))}` }],
      ['more SIDs than the bound', { [ACTION_QUERY_PARAM]: `2.${T}.${url}.${b64(randomBytes(16 * (MAX_ACTION_SIDS + 1)))}` }],
      ['a return URL longer than any allowed', { [ACTION_QUERY_PARAM]: `2.${T}.${b64(Buffer.from('https://x.example/' + 'a'.repeat(2100)))}` }],
      ['version 1 with an empty return URL', { [ACTION_QUERY_PARAM]: `1..${sids}` }],
      ['version 1 with part of a SID', { [ACTION_QUERY_PARAM]: `1.${url}.${b64(randomBytes(24))}` }],
    ])('%s: nothing', (_why, query) => {
      expect(decodeActionQuery(query)).toBeUndefined();
    });

    test('the good one, for contrast', () => {
      expect(decodeActionQuery(parsed(good))?.context.returnUrl).toBe(RETURN);
    });
  });
});

describe("a session's action query", () => {
  const session = (extra: Partial<CallSession>): CallSession =>
    ({ callSid: 'CA' + '1'.repeat(32), recording: { status: 'none' }, fields: {}, ...extra }) as CallSession;
  const [a, b] = [sid(), sid()];

  test('a plain call has none of a capture (its stretch carries its own: test/unit/recording/stretch-query.test.ts)', () => {
    expect(dropinQueryOf(session({ recording: { sids: [a], status: 'paused' } }), AT)).toBeUndefined();
  });

  test('a drop-in capture: its return URL, and the recordings only while it holds them paused, written at the time given', () => {
    const dropin = { returnUrl: RETURN };
    const read = (recording: CallSession['recording']) => decodeActionQuery(parsed(dropinQueryOf(session({ dropin, recording }), AT)!));
    const at = (context: { returnUrl: string; paused: string[] }) => ({ context, issuedAtSeconds: AT_SECONDS });
    expect(read({ status: 'none' })).toEqual(at({ returnUrl: RETURN, paused: [] }));
    expect(read({ sids: [a, b], status: 'in-progress' })).toEqual(at({ returnUrl: RETURN, paused: [] }));
    expect(read({ sids: [a, b], status: 'paused' })).toEqual(at({ returnUrl: RETURN, paused: [a, b] }));
    // a session written before `sids`: its one recording in `sid`
    expect(read({ sid: a, status: 'paused' })).toEqual(at({ returnUrl: RETURN, paused: [a] }));
    // each document its own time
    const later = new Date(AT.getTime() + 90_000);
    expect(decodeActionQuery(parsed(dropinQueryOf(session({ dropin, recording: { status: 'none' } }), later)!))).toHaveProperty(
      'issuedAtSeconds',
      AT_SECONDS + 90,
    );
  });
});

describe('in the TwiML', () => {
  const PUBLIC = 'https://ivr.example.com';
  const gather: Verb[] = [{ verb: 'gather', field: 'card', step: 1, attempt: 1, prompts: [{ say: 'card' }], timeoutSeconds: 5, sensitive: true }];

  test("a drop-in capture's gather posts to its step with the query; a plain call's exactly as before, whichever is rendered first", () => {
    const q = encodeActionQuery({ returnUrl: RETURN, paused: [sid()] }, AT);
    const dropin = renderVerbs(gather, { publicUrl: PUBLIC, actionQuery: q });
    expect(dropin).toContain(`action="${PUBLIC}/twilio/gather/1/1?${q}"`);
    expect(renderVerbs(gather, { publicUrl: PUBLIC })).toContain(`action="${PUBLIC}/twilio/gather/1/1"`);
    // never cached: the next capture's own query, not this one's
    const other = encodeActionQuery({ returnUrl: RETURN, paused: [] }, AT);
    expect(renderVerbs(gather, { publicUrl: PUBLIC, actionQuery: other })).toContain(`action="${PUBLIC}/twilio/gather/1/1?${other}"`);
  });
});
