/**
 * SIGTERM before the load balancer has taken the instance out of rotation, as a Kubernetes
 * rollout sends it (the pod's endpoint is removed as the signal is sent, not before): the
 * instance, a process of its own on Redis, answers /readyz 503 at once, ends its streams, and for
 * SHUTDOWN_DRAIN_MS goes on answering what still reaches it: a bridged call's next request and a
 * new call are passed on (a second's silence, the same request again), not refused, so that both
 * go on through the other instance once the load balancer sends them there. Then it exits 0,
 * within the contract's 10 s.
 */
import { type EmulatedCall } from '../../tools/emulator';
import { waitFor } from '../support/harness';
import { ALICE_NUMBER, CALLER, nextLeg } from '../support/agents';
import { spawnedPairSuite } from '../support/spawned-pair';

const PUB = 'https://ivr.drain.test';
const IVR_NUMBER = '+15005550132';

const pair = spawnedPairSuite({
  ivr: `id: ivr\nnumbers: ["${IVR_NUMBER}"]\nrecord: false\nsteps:\n  - collect: account\n    kind: digits\n    minLength: 4\n    maxLength: 6\n    prompt: "Key in your account number, then press hash."\n  - say: "Thank you."\n`,
});

/** what a readiness probe of A's own address gets: a status, or the connection's refusal */
async function readiness(aUrl: string): Promise<number | 'refused'> {
  try {
    return (await fetch(`${aUrl}/readyz`)).status;
  } catch {
    return 'refused';
  }
}

it('SIGTERM while the load balancer still sends to the instance: not ready at once, a bridge and a new call passed on, both go on elsewhere', async () => {
  const started = await pair.start({ publicUrl: PUB, logLevel: 'info', aEnv: { SHUTDOWN_DRAIN_MS: '5000' } });
  const { emulator: em, a: child, aUrl, exited, b: hb } = started;

  // a bridge live on A
  let agentCall: EmulatedCall | undefined;
  em.onOutboundCall((c) => (agentCall ??= c));
  const bridged = await em.placeCall({ from: CALLER, to: ALICE_NUMBER, voiceUrl: `${PUB}/twilio/voice`, statusCallback: `${PUB}/twilio/status` });
  const caller = await bridged.legReady;
  const agentC = await waitFor(() => agentCall, 'the agent call', 10_000);
  const agent = await agentC.legReady;
  await waitFor(async () => (await hb.app.services.calls.get(bridged.sid))?.state === 'bridged', 'bridged on A', 10_000);
  expect((await hb.app.services.calls.get(bridged.sid))?.instanceId).toBe('instance-a');

  // SIGTERM first; the load balancer goes on sending to A until it has seen /readyz fail
  const signalled = performance.now();
  child.kill('SIGTERM');
  await waitFor(async () => (await readiness(aUrl)) === 503, "A's /readyz answering 503 while A still listens", 3000);
  const ready = await fetch(`${aUrl}/readyz`);
  expect(((await ready.json()) as { checks: Record<string, string> }).checks.process).toBe('draining');

  // the bridged caller's stream ended at once: their next request reached A, which passed it on
  await waitFor(() => started.output.includes('lost bridge reached a draining instance: passed on'), 'the lost bridge passed on by A', 5000);
  // a new call now reaches A too: passed on, not taken
  const ivr = await em.placeCall({
    from: CALLER,
    to: IVR_NUMBER,
    voiceUrl: `${PUB}/twilio/voice`,
    statusCallback: `${PUB}/twilio/status`,
    onGather: async () => '1234#',
  });
  await waitFor(() => started.output.includes('new call reached a draining instance: passed on'), 'the new call passed on by A', 5000);
  expect(await hb.app.services.calls.get(ivr.sid)).toBeNull();

  // the load balancer has seen A fail: what Twilio sends next reaches B
  em.routeOrigin(PUB, hb.url);

  // the bridge goes on through B
  await nextLeg(bridged, caller, "the caller's stream to B", 15_000);
  await nextLeg(agentC, agent, "the agent's stream to B", 15_000);
  await waitFor(() => hb.app.services.bridges.get(bridged.sid)?.state === 'bridged', 'bridged again on B', 15_000);
  expect(bridged.status).toBe('in-progress');

  // the new call is opened on B, its flow run there
  await waitFor(async () => (await hb.app.services.audit.list(ivr.sid)).some((e) => e.type === 'field.collected'), 'the account collected on B', 15_000);
  await waitFor(() => ivr.transcript.some((t) => t.verb === 'Say' && t.text === 'Thank you.'), 'the flow went on', 15_000);

  // A exits 0 within the contract's 10 s, its drain over
  expect(await exited).toBe(0);
  const tookMs = performance.now() - signalled;
  expect(tookMs).toBeGreaterThanOrEqual(5000);
  expect(tookMs).toBeLessThan(10_000);
  expect(started.output).not.toContain('shutdown deadline passed');

  await bridged.hangup();
  await agentC.ended;
  await ivr.hangup();
}, 90_000);
