/**
 * A second SIGTERM or SIGINT during the drain (an operator's second Ctrl-C, an orchestrator that
 * gave up waiting) stops the process as deployed (`src/server.ts`, on Redis) at once: the rest of
 * the drain and the close are skipped, the held audit entries get their short last try and what
 * it did not write is counted and logged, and the exit is 1, said in the log. Before, the second
 * signal was ignored: the drain's 8 s ran out and the process exited 0.
 */
import { CALLER } from '../support/agents';
import { waitFor } from '../support/harness';
import { dialOfferFlow, heldOnA, logLines } from '../support/held-on-spawned';
import { spawnedPairSuite } from '../support/spawned-pair';

const PUB = 'https://ivr.second-signal.test';
const DIAL_OFFER_NUMBER = '+15005550134';

const pair = spawnedPairSuite(dialOfferFlow(DIAL_OFFER_NUMBER));

it('a second signal during the drain stops at once: the held entry counted, exit 1', async () => {
  const started = await pair.start({ publicUrl: PUB, logLevel: 'info', aEnv: { SHUTDOWN_DRAIN_MS: '8000' } });
  const { emulator: em, a: child, exited, b: hb, redis } = started;

  let callSid = '';
  try {
    callSid = (await heldOnA(started, PUB, DIAL_OFFER_NUMBER)).sid;
    child.kill('SIGTERM');
    await waitFor(() => started.output.includes('shutting down: no new calls'), 'the drain begun', 5000);
    child.kill('SIGINT');
    expect(await exited).toBe(1);
  } finally {
    redis.thaw();
  }
  const logged = logLines(started.output);
  const second = logged.findIndex((l) => String(l.msg).startsWith('second signal: stopping now'));
  const perCall = logged.findIndex((l) => String(l.msg).startsWith('audit entries not written:') && l.callSid === callSid);
  const count = logged.findIndex((l) => String(l.msg).startsWith('audit entries not written at shutdown'));
  const exiting = logged.findIndex((l) => l.msg === 'shutdown: exiting');
  expect(logged[second]).toMatchObject({ signal: 'SIGINT', step: 'drain' });
  expect(logged[perCall]).toMatchObject({ why: 'stopped', types: ['handoff.agent-dialed'] });
  expect(logged[count]).toMatchObject({ entries: 1 });
  expect(logged[exiting]).toMatchObject({ code: 1 });
  expect([second, perCall, count, exiting]).toEqual([second, perCall, count, exiting].sort((x, y) => x - y));
  // the drain's rest and the close were skipped
  expect(started.output).not.toContain('shutdown step did not end in its time');
  expect(JSON.stringify(logged[count])).not.toContain(CALLER.slice(2));

  em.routeOrigin(PUB, hb.url);
  await em.calls.get(callSid)?.hangup();
}, 90_000);
