/**
 * An erasure and the caller's recordings held at Twilio (docs/contract.md §7): once the call
 * records are gone the operator can no longer tell which recordings were the caller's, so the
 * receipt names, per erased call, each recording tonewall knew of (the call's SID and the
 * recording's). Without ERASE_RECORDINGS they are left at Twilio (`kept`); with it, each is deleted
 * through Twilio's REST API: `deleted`, `already-gone` for one Twilio no longer has, `failed` with
 * Twilio's answer for one it refuses (a call still up records on), and the store's erasure is
 * complete all the same. The trail's `subject.erased` entry says the same by SID.
 *
 * One caller: a recorded IVR call (the flow's own recording) and a bridged call (the agent call's
 * recording, and another application's recording of the caller that the bridge held), both over. Real app, real Redis, the project's
 * Twilio emulator, whose Recording resource is deleted as Twilio's is.
 */
import type { ErasureReceipt, RecordingErasure } from '../../../src/privacy';
import { createTwilioClient } from '../../../src/twilio/rest';
import type { EmulatedCall } from '../../../tools/emulator';
import type { RestEntry } from '../../../tools/emulator/timeline';
import { agentFlows, agentSide, api, CALLER, token } from '../../support/agents';
import { MENU_STEP } from '../../support/card-flows';
import { fetchedRecording, metricValue, startHarness, waitFor, type Harness } from '../../support/harness';

const IVR_NUMBER = '+15005550126';
const MENU_NUMBER = '+15005550127';

/** the offer and alice bridge flows; a recorded IVR flow, a word to the caller then a dial to alice; a recorded menu before a bridge */
function flows(): Record<string, string> {
  return {
    ...agentFlows(),
    menu: `id: menu\nnumbers: ["${MENU_NUMBER}"]\nrecord: true\nsteps:\n${MENU_STEP}handoff:\n  mode: bridge\n`,
    ivr: `id: ivr\nnumbers: ["${IVR_NUMBER}"]\nrecord: true\nsteps:\n  - say: "Welcome."\nhandoff:\n  mode: dial\n  to: "client:alice"\n`,
  };
}

/** the caller's two calls, over, their recordings processed; each recording as the receipt names it */
async function recordedCalls(h: Harness): Promise<{ ivr: EmulatedCall; bridged: EmulatedCall; agentCall: EmulatedCall; named: RecordingErasure[] }> {
  const ivr = await h.emulator.placeCall({ from: CALLER, to: IVR_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  await waitFor(async () => (await h.app.services.calls.get(ivr.sid))?.recording.sid, "the IVR call's recording");
  await ivr.hangup();
  await ivr.ended;
  // a bridged call: the flow's own recording through its menu, another application's started meanwhile (held for the bridge), the agent call's
  let other = '';
  const bridged: EmulatedCall = await h.emulator.placeCall({
    from: CALLER,
    to: MENU_NUMBER,
    voiceUrl: h.voiceUrl,
    statusCallback: h.statusUrl,
    onGather: async () => {
      await waitFor(async () => (await h.app.services.calls.get(bridged.sid))?.recording.sid, "the flow's recording");
      other = (await createTwilioClient(h.config.twilio).calls(bridged.sid).recordings.create()).sid;
      return '1#';
    },
  });
  await waitFor(async () => (await h.app.services.calls.get(bridged.sid))?.state === 'offered', 'offered', 10_000);
  expect((await h.app.services.calls.get(bridged.sid))?.handoff.recordingsHeld).toEqual([other]);
  expect((await api(h, 'POST', `/v1/calls/${bridged.sid}/accept`, token(h, 'alice'))).status).toBe(200);
  const { agentCall } = await agentSide(h, bridged.sid);
  await waitFor(async () => (await h.app.services.calls.get(bridged.sid))?.agentRecording?.sid, "the agent call's recording");
  await bridged.hangup();
  await bridged.ended;
  await agentCall.ended;
  // the agent call's recording is named under the caller's call: the record is the caller's
  const named = [
    ...ivr.recordings.map((r) => ({ callSid: ivr.sid, recordingSid: r.sid })),
    ...[...bridged.recordings, ...agentCall.recordings].map((r) => ({ callSid: bridged.sid, recordingSid: r.sid })),
  ];
  expect(ivr.recordings).toHaveLength(1);
  expect(bridged.recordings).toHaveLength(2);
  expect(bridged.recordings.map((r) => r.sid)).toContain(other);
  expect(agentCall.recordings).toHaveLength(1);
  return { ivr, bridged, agentCall, named: named.map((n) => ({ ...n, status: 'kept' })) };
}

const bySid = (a: { recordingSid: string }, b: { recordingSid: string }) => a.recordingSid.localeCompare(b.recordingSid);

const fetched = fetchedRecording;

async function erasedEntry(h: Harness, callSid: string): Promise<Record<string, unknown>> {
  const entry = (await h.app.services.audit.list(callSid)).find((e) => e.type === 'subject.erased');
  expect(entry).toBeDefined();
  return entry as unknown as Record<string, unknown>;
}

/**
 * A call of the caller's still up, the caller at the menu saying nothing more until it is hung up,
 * once its recording runs: Twilio does not delete a recording in progress.
 */
async function liveAtMenu(h: Harness): Promise<Awaited<ReturnType<Harness['emulator']['placeCall']>>> {
  let atMenu!: () => void;
  const asked = new Promise<void>((resolve) => (atMenu = resolve));
  const live = await h.emulator.placeCall({
    from: CALLER,
    to: MENU_NUMBER,
    voiceUrl: h.voiceUrl,
    statusCallback: h.statusUrl,
    onGather: async () => {
      atMenu();
      await live.ended;
      return '';
    },
  });
  await asked;
  await waitFor(async () => (await h.app.services.calls.get(live.sid))?.recording.sid, "the live call's recording");
  return live;
}

/** tonewall_recording_erasures_total by outcome */
async function erasures(h: Harness): Promise<{ pending: number; deleted: number; failed: number }> {
  const n = (outcome: string) => metricValue(h, 'tonewall_recording_erasures_total', { outcome });
  return { pending: await n('pending'), deleted: await n('deleted'), failed: await n('failed') };
}

describe('ERASE_RECORDINGS unset (the default)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ flows: flows() });
  });
  afterAll(async () => h.close());

  test("the receipt names each recording of the erased calls by SID and leaves it at Twilio; the trail's entry names them kept", async () => {
    const { ivr, bridged, named } = await recordedCalls(h);

    const receipt: ErasureReceipt = await h.app.services.privacy.erase(CALLER);
    expect(receipt.calls).toBe(2);
    expect([...(receipt.recordings ?? [])].sort(bySid)).toEqual([...named].sort(bySid));
    // nothing of the caller's in it: SIDs only
    expect(JSON.stringify(receipt.recordings)).not.toContain(CALLER.slice(1));

    // all still at Twilio, and no delete was asked for
    for (const { recordingSid } of named) expect(await fetched(h, recordingSid)).toBe(200);
    expect(h.emulator.timeline.filter((e) => e.type === 'rest' && e.method === 'DELETE')).toEqual([]);

    expect((await erasedEntry(h, ivr.sid)).recordingsKept).toBe(ivr.recordings.map((r) => r.sid).join(','));
    const bridgedKept = String((await erasedEntry(h, bridged.sid)).recordingsKept)
      .split(',')
      .sort();
    expect(bridgedKept).toEqual(
      named
        .filter((n) => n.callSid === bridged.sid)
        .map((n) => n.recordingSid)
        .sort(),
    );
  });
});

describe('ERASE_RECORDINGS=true', () => {
  let h: Harness;
  beforeAll(async () => {
    // the retries of a deletion Twilio did not take come at once, each poll the test's own
    h = await startHarness({
      flows: flows(),
      env: { ERASE_RECORDINGS: 'true' },
      build: { recordingErasureBackoff: { baseMs: 1, maxMs: 2, maxAttempts: 5 }, recordingErasurePollMs: 3_600_000 },
    });
  });
  afterAll(async () => h.close());

  test("a call whose record is gone, its vault values and trail left: its recordings are found by the trail's entries, listed and deleted", async () => {
    const { calls, keys, store, vault } = h.app.services;
    const ivr = await h.emulator.placeCall({ from: CALLER, to: IVR_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
    await waitFor(async () => (await calls.get(ivr.sid))?.recording.sid, "the IVR call's recording");
    const recordingSid = ivr.recordings[0].sid;
    await ivr.hangup();
    await ivr.ended;
    await waitFor(() => ivr.recordings[0]?.processed, 'the recording processed');
    // the record expires before the caller's sealed number (VAULT_TTL_SECONDS the longer): gone, as time would make it
    expect((await vault.sealedFor(ivr.sid)).length).toBeGreaterThan(0);
    await store.del(keys.call(ivr.sid));
    expect(await calls.get(ivr.sid)).toBeNull();
    expect((await h.app.services.audit.list(ivr.sid)).some((e) => e.type.startsWith('recording.') && e.recordingSid === recordingSid)).toBe(true);

    const receipt = await h.app.services.privacy.erase(CALLER);
    expect(receipt.calls).toBe(1);
    expect(receipt.recordings).toEqual([{ callSid: ivr.sid, recordingSid, status: 'deleted' }]);
    expect(await fetched(h, recordingSid)).toBe(404);
    expect(await erasedEntry(h, ivr.sid)).toMatchObject({ recordingsDeleted: recordingSid });
  });

  test('each is deleted at Twilio; one already gone is `already-gone`, one Twilio refuses (its call still up) `pending` with its answer; the store is erased all the same', async () => {
    const { ivr, bridged, agentCall, named } = await recordedCalls(h);
    // the IVR call's recording is deleted at Twilio before the erasure (by the operator, say)
    const gone = ivr.recordings[0].sid;
    await createTwilioClient(h.config.twilio).recordings(gone).remove();
    expect(await fetched(h, gone)).toBe(404);
    // a third call of the caller's, still up, the caller at the menu: its recording is in progress, which Twilio does not delete
    const live = await liveAtMenu(h);
    const running = live.recordings[0];
    expect(running.status).toBe('in-progress');

    try {
      const receipt = await h.app.services.privacy.erase(CALLER);

      // the store's erasure is complete whatever became of the recordings
      expect(receipt.calls).toBe(3);
      for (const c of [ivr, bridged, live]) expect(await h.app.services.calls.get(c.sid)).toBeNull();
      expect((await h.app.services.privacy.access(CALLER)).calls).toEqual([]);

      const expected: RecordingErasure[] = [
        ...named.map((n): RecordingErasure => ({ ...n, status: n.recordingSid === gone ? 'already-gone' : 'deleted' })),
        { callSid: live.sid, recordingSid: running.sid, status: 'pending', httpStatus: 400, code: 20009 },
      ];
      expect([...(receipt.recordings ?? [])].sort(bySid)).toEqual(expected.sort(bySid));

      // gone at Twilio: neither fetched nor listed on its call any more
      for (const { recordingSid } of named) expect(await fetched(h, recordingSid)).toBe(404);
      expect([...ivr.recordings, ...bridged.recordings, ...agentCall.recordings]).toEqual([]);
      // the refused one is still there, kept to be deleted once the call is over
      expect(await fetched(h, running.sid)).toBe(200);
      expect((await h.app.services.recordingErasures!.kept()).map((k) => k.recordingSid)).toEqual([running.sid]);

      // the trail's entries say the same by SID
      expect(await erasedEntry(h, ivr.sid)).toMatchObject({ recordingsAlreadyGone: gone });
      const bridgedEntry = await erasedEntry(h, bridged.sid);
      expect(String(bridgedEntry.recordingsDeleted).split(',').sort()).toEqual(
        named
          .filter((n) => n.callSid === bridged.sid)
          .map((n) => n.recordingSid)
          .sort(),
      );
      expect(await erasedEntry(h, live.sid)).toMatchObject({ recordingsPending: running.sid });
      // the refusal is logged, by SID and Twilio's answer: nothing of the caller's
      const logged = h.logs.lines
        .map((l) => JSON.parse(l) as { msg?: string })
        .filter((l) => l.msg === 'recording of an erased call not deleted at Twilio yet: will retry');
      expect(logged).toEqual([expect.objectContaining({ callSid: live.sid, recordingSid: running.sid, httpStatus: 400, code: 20009 })]);
      expect(JSON.stringify(logged)).not.toContain(CALLER.slice(1));
    } finally {
      await live.hangup();
    }
    // the call over and its recording processed, the retry deletes it
    await waitFor(async () => {
      await h.app.services.recordingErasures!.poll();
      return (await h.app.services.recordingErasures!.kept()).length === 0;
    }, 'the kept deletion settled');
    expect(await fetched(h, running.sid)).toBe(404);
  });

  test('a recording Twilio cannot delete yet (its call up) is `pending`, tried again with backoff, and deleted once it can be; the outcome goes in the trail, and nothing but the trail names the call', async () => {
    const { recordingErasures: queue, audit } = h.app.services;
    const live = await liveAtMenu(h);
    const recordingSid = live.recordings[0].sid;
    const { pending: pendingBefore, deleted: deletedBefore } = await erasures(h);

    const receipt = await h.app.services.privacy.erase(CALLER);
    expect(receipt.recordings).toEqual([{ callSid: live.sid, recordingSid, status: 'pending', httpStatus: 400, code: 20009 }]);
    const deletes = () =>
      h.emulator.timeline.filter((e): e is RestEntry => e.type === 'rest' && e.method === 'DELETE' && e.path.endsWith(`/Recordings/${recordingSid}.json`));
    expect(deletes().map((e) => e.status)).toEqual([400]);

    // the kept deletion names no call: its SID sealed, as nothing in the store but the trail may name an erased call
    const left = (await h.scan()).filter(({ key, content }) => `${key}\n${content}`.includes(live.sid)).map(({ key }) => key);
    expect(left.filter((k) => k !== h.app.services.keys.audit(live.sid) && !k.startsWith(h.app.services.keys.auditDay('')))).toEqual([]);

    // tried again while the call is still up: still not yet, kept, its tries counted
    await waitFor(async () => {
      await queue!.poll();
      return deletes().length === 2;
    }, 'a second try');
    expect(deletes().map((e) => e.status)).toEqual([400, 400]);
    expect(await queue!.kept()).toEqual([expect.objectContaining({ recordingSid, receiptId: receipt.receiptId, attempts: 2 })]);

    await live.hangup();
    await live.ended;
    // two pollers at once, as two instances: the lease lets one try it
    await waitFor(async () => {
      await Promise.all([queue!.poll(), queue!.poll()]);
      return (await queue!.kept()).length === 0;
    }, 'the kept deletion settled');
    expect(deletes().map((e) => e.status)).toEqual([400, 400, 204]);
    expect(await fetched(h, recordingSid)).toBe(404);
    const settled = (await audit.list(live.sid)).filter((e) => e.type === 'subject.recording-erased');
    expect(settled).toEqual([expect.objectContaining({ receiptId: receipt.receiptId, recordingSid, outcome: 'deleted', tries: 3 })]);
    // counted for the operator: the erasure's own try pending, the retry's deletion (the retries between are only logged)
    expect(await erasures(h)).toEqual({ pending: pendingBefore + 1, deleted: deletedBefore + 1, failed: 0 });
  });
});

describe('ERASE_RECORDINGS=true, a deletion Twilio never takes', () => {
  let h: Harness;
  beforeAll(async () => {
    // tried for 50 ms only: the first retry after it is the last
    h = await startHarness({
      flows: flows(),
      env: { ERASE_RECORDINGS: 'true' },
      build: { recordingErasureBackoff: { baseMs: 60, maxMs: 60, maxAttempts: 5 }, recordingErasureWindowMs: 50, recordingErasurePollMs: 3_600_000 },
    });
  });
  afterAll(async () => h.close());

  test("is given up once its time is over: the trail says `failed` with Twilio's last answer, and the record goes", async () => {
    const { recordingErasures: queue, audit } = h.app.services;
    const live = await liveAtMenu(h);
    try {
      const recordingSid = live.recordings[0].sid;
      const receipt = await h.app.services.privacy.erase(CALLER);
      expect(receipt.recordings).toEqual([expect.objectContaining({ recordingSid, status: 'pending' })]);
      await waitFor(async () => {
        await queue!.poll();
        return (await queue!.kept()).length === 0;
      }, 'the kept deletion given up');
      const settled = (await audit.list(live.sid)).filter((e) => e.type === 'subject.recording-erased');
      expect(settled).toEqual([expect.objectContaining({ recordingSid, outcome: 'failed', tries: 2, httpStatus: 400, code: 20009 })]);
      expect(await fetched(h, recordingSid)).toBe(200);
      const gaveUp = h.logs.lines
        .map((l) => JSON.parse(l) as { msg?: string })
        .filter((l) => l.msg === 'recording of an erased call not deleted at Twilio: giving up');
      expect(gaveUp).toEqual([expect.objectContaining({ recordingSid, httpStatus: 400, code: 20009, tries: 2 })]);
      // a deletion given up is counted, for the alert that asks an operator to delete it by hand
      expect(await erasures(h)).toEqual({ pending: 1, deleted: 0, failed: 1 });
    } finally {
      await live.hangup();
    }
  });
});
