/**
 * SIGTERM to the process as deployed (`src/server.ts`) while an agent panel's socket on it no
 * longer reads (a browser tab frozen, a network that stopped delivering): its close frame (1001,
 * `shutting down`) goes unanswered, so it is cut STOP_CLOSE_GRACE_MS after the close began, the
 * port closes, and the process exits 0. Before, ws waited 30 s for the answer and the server's
 * close for the socket: the close ran past its time, exit 1.
 */
import { STOP_CLOSE_GRACE_MS } from '../../src/app-http';
import { type Harness } from '../support/harness';
import { AgentSocket, token } from '../support/agents';
import { logLines } from '../support/held-on-spawned';
import { spawnedPairSuite } from '../support/spawned-pair';

const pair = spawnedPairSuite();

it('SIGTERM with a panel that answers no close: cut after the grace, exit 0', async () => {
  const started = await pair.start({ publicUrl: 'https://ivr.panel-unresponsive.test', logLevel: 'info', aEnv: { SHUTDOWN_DRAIN_MS: '0' } });
  const { a: child, aUrl, exited, b: hb } = started;

  const panel = await AgentSocket.open({ url: aUrl } as Harness, token(hb, 'alice'));
  // ws reads its socket as data comes: paused, nothing more is read, the close frame included
  const socket = (panel.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();

  child.kill('SIGTERM');
  try {
    expect(await exited).toBe(0);
  } finally {
    socket.resume();
  }
  const logged = logLines(started.output);
  expect(started.output).not.toContain('shutdown step did not end in its time');
  // given its grace, not cut at once (and not waited 30 s: exit 0 is within the close's 9 s)
  const begun = logged.find((l) => l.msg === 'shutting down: no new calls, closing streams')!;
  const exiting = logged.find((l) => l.msg === 'shutdown: exiting')!;
  expect(exiting).toMatchObject({ code: 0 });
  expect((exiting.time as number) - (begun.time as number)).toBeGreaterThanOrEqual(STOP_CLOSE_GRACE_MS);
  // read again, the panel finds its connection gone
  await panel.closed;
}, 90_000);
