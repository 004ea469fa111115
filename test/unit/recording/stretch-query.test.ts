/**
 * What a plain call's <Gather> and guard actions carry while its sensitive stretch holds
 * recordings paused (recording/stretch-query.ts): their SIDs, or the flow's own as
 * Twilio.CURRENT, and when it was written, read back only in the one form written (one of the
 * untimed version 1 as untimed); nothing when nothing is held or the SIDs cannot be carried. A
 * drop-in capture's actions carry its own query instead.
 */
import { randomBytes } from 'node:crypto';
import type { CallSession } from '../../../src/calls/session';
import { ACTION_QUERY_PARAM } from '../../../src/dropin/action-query';
import { MAX_ACTION_SIDS } from '../../../src/recording/sid-pack';
import { decodeStretchQuery, encodeStretchQuery, STRETCH_QUERY_PARAM, stretchHoldOf, stretchQueryOf } from '../../../src/recording/stretch-query';
import { actionQueryOf } from '../../../src/twilio/action-query';

const sid = () => 'RE' + randomBytes(16).toString('hex');
const b64 = (b: Buffer) => b.toString('base64url');
/** the query as Fastify hands it to a route: the value percent-decoded */
const parsed = (query: string): Record<string, string> => Object.fromEntries(new URLSearchParams(query));
/** a time with milliseconds, which the query drops */
const AT = new Date('2026-12-07T10:20:30.456Z');
const AT_SECONDS = 1796638830;
const T = AT_SECONDS.toString(36);

describe('encode and decode', () => {
  test.each([1, 2, 16, MAX_ACTION_SIDS])('%d paused recordings: read back exactly, in characters nothing re-encodes', (n) => {
    const sids = Array.from({ length: n }, sid);
    const q = encodeStretchQuery({ sids }, AT)!;
    expect(q).toMatch(new RegExp(`^${STRETCH_QUERY_PARAM}=2\\.${T}\\.[A-Za-z0-9_-]+$`));
    expect(decodeStretchQuery(parsed(q))).toEqual({ hold: { sids }, issuedAtSeconds: AT_SECONDS });
  });

  test("the flow's own recording paused as Twilio.CURRENT (its SID not yet known)", () => {
    const q = encodeStretchQuery({ current: true }, AT)!;
    expect(q).toBe(`${STRETCH_QUERY_PARAM}=2.${T}.current`);
    expect(decodeStretchQuery(parsed(q))).toEqual({ hold: { current: true }, issuedAtSeconds: AT_SECONDS });
  });

  test('nothing to carry, or what cannot be carried: no query (the action is as it always was)', () => {
    expect(encodeStretchQuery({ sids: [] }, AT)).toBeUndefined();
    expect(encodeStretchQuery({ sids: ['RE123'] }, AT)).toBeUndefined();
    expect(encodeStretchQuery({ sids: [sid().toUpperCase()] }, AT)).toBeUndefined();
    expect(encodeStretchQuery({ sids: Array.from({ length: MAX_ACTION_SIDS + 1 }, sid) }, AT)).toBeUndefined();
  });

  test('one written before the query held its time (version 1): read as untimed, of no known age', () => {
    const sids = b64(Buffer.from(sid().slice(2), 'hex'));
    expect(decodeStretchQuery(parsed(`${STRETCH_QUERY_PARAM}=1.${sids}`))).toEqual({ untimed: true });
    expect(decodeStretchQuery(parsed(`${STRETCH_QUERY_PARAM}=1.current`))).toEqual({ untimed: true });
    // not one version 1 wrote either: nothing at all
    expect(decodeStretchQuery(parsed(`${STRETCH_QUERY_PARAM}=1.${T}.${sids}`))).toBeUndefined();
    expect(decodeStretchQuery(parsed(`${STRETCH_QUERY_PARAM}=1.AAAA`))).toBeUndefined();
  });

  test('read back only in the form written', () => {
    const sids = b64(Buffer.from(sid().slice(2) + sid().slice(2), 'hex'));
    expect(decodeStretchQuery(parsed(`${STRETCH_QUERY_PARAM}=2.${T}.${sids}`))).toHaveProperty('hold.sids');
    const refused: [string, unknown][] = [
      ['no query', undefined],
      ['no parameter', {}],
      ['the parameter given twice', { [STRETCH_QUERY_PARAM]: [`2.${T}.${sids}`, `2.${T}.${sids}`] }],
      ['another version', { [STRETCH_QUERY_PARAM]: `3.${T}.${sids}` }],
      ['no time', { [STRETCH_QUERY_PARAM]: `2.${sids}` }],
      ['an empty time', { [STRETCH_QUERY_PARAM]: `2..${sids}` }],
      ['a time with a leading zero', { [STRETCH_QUERY_PARAM]: `2.0${T}.${sids}` }],
      ['a time in upper case', { [STRETCH_QUERY_PARAM]: `2.${T.toUpperCase()}.${sids}` }],
      ['a negative time', { [STRETCH_QUERY_PARAM]: `2.-${T}.${sids}` }],
      ['a time past the bound', { [STRETCH_QUERY_PARAM]: `2.${'z'.repeat(9)}.${sids}` }],
      ['no SIDs', { [STRETCH_QUERY_PARAM]: `2.${T}` }],
      ['an empty SID part', { [STRETCH_QUERY_PARAM]: `2.${T}.` }],
      ['a part too many', { [STRETCH_QUERY_PARAM]: `2.${T}.${sids}.${sids}` }],
      ['padding', { [STRETCH_QUERY_PARAM]: `2.${T}.${sids}==` }],
      ['part of a SID', { [STRETCH_QUERY_PARAM]: `2.${T}.${b64(randomBytes(24))}` }],
      ['more SIDs than the bound', { [STRETCH_QUERY_PARAM]: `2.${T}.${b64(randomBytes(16 * (MAX_ACTION_SIDS + 1)))}` }],
      ['CURRENT in another case', { [STRETCH_QUERY_PARAM]: `2.${T}.Current` }],
      ["a drop-in capture's query", { [ACTION_QUERY_PARAM]: `1.${b64(Buffer.from('https://shop.example.com/paid'))}.${sids}` }],
    ];
    for (const [what, query] of refused) expect([what, decodeStretchQuery(query)]).toEqual([what, undefined]);
  });
});

describe("a session's hold", () => {
  const session = (recording: CallSession['recording'], extra: Partial<CallSession> = {}): CallSession =>
    ({ callSid: 'CA' + '1'.repeat(32), recording, fields: {}, ...extra }) as CallSession;
  const [own, other] = [sid(), sid()];

  test("what the stretch paused by SID, else the flow's own while paused; nothing otherwise", () => {
    expect(stretchHoldOf(session({ status: 'paused', sid: own, sids: [own, other] }))).toEqual({ sids: [own, other] });
    // a flow that does not record: another application's alone
    expect(stretchHoldOf(session({ status: 'none', othersPaused: true, sids: [other] }))).toEqual({ sids: [other] });
    expect(stretchHoldOf(session({ status: 'paused', sid: own }))).toEqual({ sids: [own] });
    expect(stretchHoldOf(session({ status: 'paused' }))).toEqual({ current: true });
    // kept named while their resume failed: still held
    expect(stretchHoldOf(session({ status: 'paused', sids: [other], resumeFailed: { lateUntil: 0 } }))).toEqual({ sids: [other] });
    // a stretch that found nothing to pause, or none open
    expect(stretchHoldOf(session({ status: 'none', othersPaused: true }))).toBeUndefined();
    expect(stretchHoldOf(session({ status: 'in-progress', sid: own }))).toBeUndefined();
    expect(stretchHoldOf(session({ status: 'none' }))).toBeUndefined();
  });

  test("a plain call's actions carry its stretch's hold; a drop-in capture's its own query, never the stretch's", () => {
    const paused = { status: 'paused' as const, sid: own, sids: [own, other] };
    expect(decodeStretchQuery(parsed(actionQueryOf(session(paused), AT)!))).toEqual({ hold: { sids: [own, other] }, issuedAtSeconds: AT_SECONDS });
    expect(actionQueryOf(session(paused), AT)).toBe(stretchQueryOf(session(paused), AT));
    expect(actionQueryOf(session({ status: 'in-progress', sid: own }), AT)).toBeUndefined();
    const capture = actionQueryOf(session(paused, { dropin: { returnUrl: 'https://shop.example.com/paid' } } as Partial<CallSession>), AT)!;
    expect(Object.keys(parsed(capture))).toEqual([ACTION_QUERY_PARAM]);
  });
});
