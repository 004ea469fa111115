/**
 * What a sensitive stretch pauses on a call (recording/stretch.ts), on its own: the service's own
 * recording, and every other one Twilio lists in progress on the call, from a list whose answers
 * each test scripts. Whatever the list says, the service's own recording is never left out.
 */
import pino from 'pino';
import { inProgress, stretchRecordings, type RecordingList } from '../../../src/recording/stretch';

const CALL = 'CA' + '1'.repeat(32);
const OWN = 'RE' + '0'.repeat(32);
const OTHER = 'RE' + 'a'.repeat(32);
const PAUSED = 'RE' + 'b'.repeat(32);
const DONE = 'RE' + 'c'.repeat(32);

function logged() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log, lines };
}

/** a list that answers `listed` (or fails with `error`), counting what it was asked */
function list(listed: Array<{ sid: string; status: string }> | Error) {
  const asked: string[] = [];
  const fn: RecordingList = async (callSid) => {
    asked.push(callSid);
    if (listed instanceof Error) throw listed;
    return listed;
  };
  return { fn, asked };
}

const LISTED = [
  { sid: OWN, status: 'in-progress' },
  { sid: OTHER, status: 'in-progress' },
  { sid: PAUSED, status: 'paused' },
  { sid: DONE, status: 'completed' },
];

test('only the recordings in progress are taken: one its owner paused is left alone, one that ended is gone', () => {
  expect(inProgress(LISTED)).toEqual([OWN, OTHER]);
});

test("the service's own recording first, then every other one in progress, once each, from one list", async () => {
  const l = list(LISTED);
  const { log } = logged();
  expect(await stretchRecordings(l.fn, CALL, { sid: OWN }, log)).toEqual([
    { callSid: CALL, recordingSid: OWN },
    { callSid: CALL, recordingSid: OTHER },
  ]);
  expect(l.asked).toEqual([CALL]);
});

test("a call whose own recording does not run: every recording in progress is another application's; none in progress, none", async () => {
  const { log } = logged();
  expect(await stretchRecordings(list(LISTED).fn, CALL, undefined, log)).toEqual([
    { callSid: CALL, recordingSid: OWN },
    { callSid: CALL, recordingSid: OTHER },
  ]);
  expect(await stretchRecordings(list([{ sid: DONE, status: 'completed' }]).fn, CALL, undefined, log)).toEqual([]);
});

test('our own recording not yet known by its SID: Twilio.CURRENT alone, and nothing listed (Twilio refuses CURRENT while several run: fail closed)', async () => {
  const l = list(LISTED);
  const { log } = logged();
  expect(await stretchRecordings(l.fn, CALL, {}, log)).toEqual([{ callSid: CALL }]);
  expect(l.asked).toEqual([]);
});

test('the list cannot be read: what is known is paused (our own, or nothing), and that is logged with the call and the error', async () => {
  const { log, lines } = logged();
  const down = new Error('Service Unavailable');
  expect(await stretchRecordings(list(down).fn, CALL, { sid: OWN }, log)).toEqual([{ callSid: CALL, recordingSid: OWN }]);
  expect(await stretchRecordings(list(down).fn, CALL, undefined, log)).toEqual([]);
  expect(lines.map((l) => [l.msg, l.listedCallSid, (l.err as { message?: string }).message])).toEqual([
    ["the call's recordings could not be listed: another application's are not paused", CALL, 'Service Unavailable'],
    ["the call's recordings could not be listed: another application's are not paused", CALL, 'Service Unavailable'],
  ]);
});

test('no REST client to list with: our own alone', async () => {
  const { log } = logged();
  expect(await stretchRecordings(undefined, CALL, { sid: OWN }, log)).toEqual([{ callSid: CALL, recordingSid: OWN }]);
});

test('a recording the last stretch paused and could not resume (held) is taken in while Twilio lists it paused; a paused one not ours, or one that ended, is not', async () => {
  const { log } = logged();
  expect(await stretchRecordings(list(LISTED).fn, CALL, { sid: OWN }, log, [PAUSED, DONE])).toEqual([
    { callSid: CALL, recordingSid: OWN },
    { callSid: CALL, recordingSid: OTHER },
    { callSid: CALL, recordingSid: PAUSED },
  ]);
  expect(await stretchRecordings(list(LISTED).fn, CALL, { sid: OWN }, log, [DONE])).toEqual([
    { callSid: CALL, recordingSid: OWN },
    { callSid: CALL, recordingSid: OTHER },
  ]);
});
