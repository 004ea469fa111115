/**
 * A stop with no drain (SHUTDOWN_DRAIN_MS 0: the embedded store's default, an operator's choice on
 * Redis), a capture running on a bridged call: the captures and bridges are told of the stop
 * before any socket is closed, so the stop ends them as a stop (CONTRACT §8). The capture fails
 * `shutdown` with every recording it paused resumed while its call is up; on Redis the bridge is
 * lost `shutdown`, the record left for the instance that takes the call up; on the embedded store
 * the bridge ends `shutdown`. Before, the WebSocket plugin's close (1001 to every socket) ran
 * first and the streams' closes were taken for streams cut off: on Redis the bridge lost
 * `caller-stream-lost` and taken up by the other instance while the capture still ran here, its
 * recordings resumed after (an agent's stream closed first had its call redirected back to the
 * stopping instance); on the embedded store the bridge ended `stream-closed`, the call with it,
 * and the capture's recordings, resumed only after, were found ended and left paused. The drain
 * (SHUTDOWN_DRAIN_MS > 0) ran first and kept the order: shutdown-order-drain.test.ts.
 */
import fs from 'node:fs';
import { startHarness } from '../support/harness';
import { makeFlowsDir, token } from '../support/agents';
import { spawnedPairSuite } from '../support/spawned-pair';
import { capturing, stopWithCapture } from '../support/stop-order';

const PUB = 'https://ivr.stop-order.test';

const pair = spawnedPairSuite();

it(
  'on Redis, SIGTERM with no drain: the capture fails `shutdown`, its recordings resumed; the bridge lost `shutdown`, the call taken up by the other instance',
  () => stopWithCapture(pair, PUB, 0),
  90_000,
);

it('on the embedded store, the close with no drain (what SIGTERM runs): the capture fails `shutdown`, its recordings resumed, then the bridge ends `shutdown`', async () => {
  const flowsDir = makeFlowsDir();
  const h = await startHarness({ store: 'embedded', flowsDir });
  try {
    const alice = token(h, 'alice');
    const live = await capturing(h, alice);
    await h.app.close();
    const logged = h.logs.text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; reason?: string });
    const ends = logged.filter((l) => l.msg === 'capture ended' || l.msg === 'bridge ended').map((l) => [l.msg, l.reason]);
    expect(ends).toEqual([
      ['capture ended', 'shutdown'],
      ['bridge ended', 'shutdown'],
    ]);
    expect(logged.some((l) => l.msg === 'recording resume failed: it stays paused')).toBe(false);
    // the calls end with the instance (nothing follows the <Connect> on the embedded store), each recording resumed before
    await live.call.ended;
    await live.agentCall.ended;
    for (const sid of live.recordings)
      expect(h.emulator.recordingStatuses(live.agentCall.sid, sid)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  } finally {
    await h.emulator.close();
    fs.rmSync(flowsDir, { recursive: true, force: true });
  }
}, 60_000);
