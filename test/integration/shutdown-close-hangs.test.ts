/**
 * SIGTERM to the process as deployed (`src/server.ts`, on Redis) while a step of its close hangs
 * (a request in flight whose body never comes: the close waits for it, and Node's request timeout
 * ends it only after 15 s) and an audit entry is held (Redis frozen as its append was made): the
 * close is given until shortly before the contract's 10 s, then the held entry gets its last try
 * and, not written, is counted and logged, its number in one line, before the process exits 1.
 * Before, the close waited on the request until the deadline's exit, and the held entry's last
 * try, after the request in the close, never ran: lost without a word.
 */
import net from 'node:net';
import { CALLER } from '../support/agents';
import { waitFor } from '../support/harness';
import { dialOfferFlow, heldOnA, logLines } from '../support/held-on-spawned';
import { spawnedPairSuite } from '../support/spawned-pair';

const PUB = 'https://ivr.close-hangs.test';
const DIAL_OFFER_NUMBER = '+15005550133';

const pair = spawnedPairSuite(dialOfferFlow(DIAL_OFFER_NUMBER));

it('a request in flight that never ends does not keep a held audit entry from its last try and its count before the exit', async () => {
  const started = await pair.start({ publicUrl: PUB, logLevel: 'info', aEnv: { SHUTDOWN_DRAIN_MS: '0' } });
  const { emulator: em, a: child, aUrl, exited, b: hb, redis } = started;

  const trickle = new net.Socket();
  let callSid = '';
  try {
    const call = await heldOnA(started, PUB, DIAL_OFFER_NUMBER);
    callSid = call.sid;
    // a request whose body never comes: in flight until Node's request timeout (15 s)
    await new Promise<void>((resolve, reject) => trickle.connect(Number(new URL(aUrl).port), '127.0.0.1', resolve).once('error', reject));
    // (its query, logged `?[query]`, tells it from Twilio's own callbacks)
    trickle.write(
      `POST /twilio/status?trickle HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nCallSid=`,
    );
    // in flight on A before the signal: a connection whose request A had not read yet was idle to
    // the server's close, closed at once, and the close did not hang on it
    await waitFor(() => started.output.includes('"url":"/twilio/status?[query]"'), 'the request in flight on A', 10_000);

    child.kill('SIGTERM');
    expect(await exited).toBe(1);
  } finally {
    trickle.destroy();
    redis.thaw();
  }
  const logged = logLines(started.output);
  const overran = logged.findIndex((l) => l.msg === 'shutdown step did not end in its time: the held audit entries get their last try, then exit');
  const perCall = logged.findIndex((l) => String(l.msg).startsWith('audit entries not written:') && l.callSid === callSid);
  const count = logged.findIndex((l) => String(l.msg).startsWith('audit entries not written at shutdown'));
  // the held entry's last try ran, and what it did not write was counted, before the exit
  expect(logged[perCall]).toMatchObject({ why: 'stopped', types: ['handoff.agent-dialed'] });
  expect(logged[count]).toMatchObject({ level: 50, entries: 1 });
  // after the close's time ran out, on the step that hung
  expect(logged[overran]).toMatchObject({ step: 'close' });
  expect(perCall).toBeGreaterThan(overran);
  expect(count).toBeGreaterThan(perCall);
  // the count, not the caller
  expect(JSON.stringify(logged[count])).not.toContain(CALLER.slice(2));
  expect(started.output).not.toContain('shutdown deadline passed');

  em.routeOrigin(PUB, hb.url);
  await em.calls.get(callSid)?.hangup();
}, 90_000);
