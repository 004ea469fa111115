/**
 * SIGTERM to the process as deployed (`src/server.ts`, on Redis, beside an in-process instance
 * behind one PUBLIC_URL), with a bridge live on it and a call waiting in its IVR's <Gather>:
 * CONTRACT §8, it stops taking calls, ends its streams cleanly and exits before its own deadline
 * (10 s; docker-compose's stop_grace_period is 15 s), exit code 0. What Twilio sends next reaches
 * the other instance: the bridged call is taken up there, the IVR call's keys are collected there.
 * Its bus channels are all left before its store closes (none noted as not left).
 */
import { type EmulatedCall } from '../../tools/emulator';
import { waitFor } from '../support/harness';
import { ALICE_NUMBER, CALLER, nextLeg } from '../support/agents';
import { spawnedPairSuite } from '../support/spawned-pair';

const PUB = 'https://ivr.sigterm.test';
const IVR_NUMBER = '+15005550131';

const pair = spawnedPairSuite({
  ivr: `id: ivr\nnumbers: ["${IVR_NUMBER}"]\nrecord: false\nsteps:\n  - collect: account\n    kind: digits\n    minLength: 4\n    maxLength: 6\n    prompt: "Key in your account number, then press hash."\n  - say: "Thank you."\n`,
});

it('SIGTERM with a live bridge and a call in the IVR: exit 0 before the deadline, both calls go on through the other instance', async () => {
  const started = await pair.start({ publicUrl: PUB, logLevel: 'info' });
  const { emulator: em, a: child, exited, b: hb } = started;

  // a bridge live on A
  let agentCall: EmulatedCall | undefined;
  em.onOutboundCall((c) => (agentCall ??= c));
  const bridged = await em.placeCall({ from: CALLER, to: ALICE_NUMBER, voiceUrl: `${PUB}/twilio/voice`, statusCallback: `${PUB}/twilio/status` });
  const caller = await bridged.legReady;
  const agentC = await waitFor(() => agentCall, 'the agent call', 10_000);
  const agent = await agentC.legReady;
  await waitFor(async () => (await hb.app.services.calls.get(bridged.sid))?.state === 'bridged', 'bridged on A', 10_000);
  expect((await hb.app.services.calls.get(bridged.sid))?.instanceId).toBe('instance-a');

  // a caller in A's IVR, keying while A shuts down: the keys are sent once A is gone
  let atGather!: () => void;
  const gathering = new Promise<void>((r) => (atGather = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const ivr = await em.placeCall({
    from: CALLER,
    to: IVR_NUMBER,
    voiceUrl: `${PUB}/twilio/voice`,
    statusCallback: `${PUB}/twilio/status`,
    onGather: async () => {
      atGather();
      await released;
      return '1234#';
    },
  });
  await gathering;

  // the load balancer takes A out of rotation, then A is stopped
  em.routeOrigin(PUB, hb.url);
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(started.output).toContain('shutting down');
  expect(started.output).not.toContain('shutdown deadline passed');
  // Redis answering, every channel is left before the store closes: none noted as not left
  expect(started.output).not.toContain('unsubscribes not answered on shutdown');
  release();

  // the bridge goes on through B
  await nextLeg(bridged, caller, "the caller's stream to B", 15_000);
  await nextLeg(agentC, agent, "the agent's stream to B", 15_000);
  await waitFor(() => hb.app.services.bridges.get(bridged.sid)?.state === 'bridged', 'bridged again on B', 15_000);
  expect(bridged.status).toBe('in-progress');

  // the IVR call's keys are collected on B, and its flow goes on
  await waitFor(async () => (await hb.app.services.audit.list(ivr.sid)).some((e) => e.type === 'field.collected'), 'the account collected on B', 15_000);
  await waitFor(() => ivr.transcript.some((t) => t.verb === 'Say' && t.text === 'Thank you.'), 'the flow went on', 15_000);

  await bridged.hangup();
  await agentC.ended;
}, 90_000);
