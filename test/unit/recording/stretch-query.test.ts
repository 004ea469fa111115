/**
 * What a plain call's <Gather> and guard actions carry while its sensitive stretch holds
 * recordings paused (recording/stretch-query.ts): their SIDs, or the flow's own as
 * Twilio.CURRENT, read back only in the one form written; nothing when nothing is held or the
 * SIDs cannot be carried. A drop-in capture's actions carry its own query instead.
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

describe('encode and decode', () => {
  test.each([1, 2, 16, MAX_ACTION_SIDS])('%d paused recordings: read back exactly, in characters nothing re-encodes', (n) => {
    const sids = Array.from({ length: n }, sid);
    const q = encodeStretchQuery({ sids })!;
    expect(q).toMatch(new RegExp(`^${STRETCH_QUERY_PARAM}=1\\.[A-Za-z0-9_-]+$`));
    expect(decodeStretchQuery(parsed(q))).toEqual({ sids });
  });

  test("the flow's own recording paused as Twilio.CURRENT (its SID not yet known)", () => {
    const q = encodeStretchQuery({ current: true })!;
    expect(q).toBe(`${STRETCH_QUERY_PARAM}=1.current`);
    expect(decodeStretchQuery(parsed(q))).toEqual({ current: true });
  });

  test('nothing to carry, or what cannot be carried: no query (the action is as it always was)', () => {
    expect(encodeStretchQuery({ sids: [] })).toBeUndefined();
    expect(encodeStretchQuery({ sids: ['RE123'] })).toBeUndefined();
    expect(encodeStretchQuery({ sids: [sid().toUpperCase()] })).toBeUndefined();
    expect(encodeStretchQuery({ sids: Array.from({ length: MAX_ACTION_SIDS + 1 }, sid) })).toBeUndefined();
  });

  test('read back only in the form written', () => {
    const sids = b64(Buffer.from(sid().slice(2) + sid().slice(2), 'hex'));
    expect(decodeStretchQuery(parsed(`${STRETCH_QUERY_PARAM}=1.${sids}`))).toHaveProperty('sids');
    const refused: [string, unknown][] = [
      ['no query', undefined],
      ['no parameter', {}],
      ['the parameter given twice', { [STRETCH_QUERY_PARAM]: [`1.${sids}`, `1.${sids}`] }],
      ['another version', { [STRETCH_QUERY_PARAM]: `2.${sids}` }],
      ['no SIDs', { [STRETCH_QUERY_PARAM]: '1' }],
      ['an empty SID part', { [STRETCH_QUERY_PARAM]: '1.' }],
      ['a part too many', { [STRETCH_QUERY_PARAM]: `1.${sids}.${sids}` }],
      ['padding', { [STRETCH_QUERY_PARAM]: `1.${sids}==` }],
      ['part of a SID', { [STRETCH_QUERY_PARAM]: `1.${b64(randomBytes(24))}` }],
      ['more SIDs than the bound', { [STRETCH_QUERY_PARAM]: `1.${b64(randomBytes(16 * (MAX_ACTION_SIDS + 1)))}` }],
      ['CURRENT in another case', { [STRETCH_QUERY_PARAM]: '1.Current' }],
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
    expect(decodeStretchQuery(parsed(actionQueryOf(session(paused))!))).toEqual({ sids: [own, other] });
    expect(actionQueryOf(session(paused))).toBe(stretchQueryOf(session(paused)));
    expect(actionQueryOf(session({ status: 'in-progress', sid: own }))).toBeUndefined();
    const capture = actionQueryOf(session(paused, { dropin: { returnUrl: 'https://shop.example.com/paid' } } as Partial<CallSession>))!;
    expect(Object.keys(parsed(capture))).toEqual([ACTION_QUERY_PARAM]);
  });
});
