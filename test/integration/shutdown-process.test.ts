/**
 * SIGTERM to the process as deployed (`src/server.ts`, on Redis, beside an in-process instance
 * behind one PUBLIC_URL), with a bridge live on it and a call waiting in its IVR's <Gather>:
 * CONTRACT §8, it stops taking calls, ends its streams cleanly and exits before its own deadline
 * (10 s; docker-compose's stop_grace_period is 15 s), exit code 0. What Twilio sends next reaches
 * the other instance: the bridged call is taken up there, the IVR call's keys are collected there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startTwilioEmulator, type EmulatedCall, type MediaLeg, type TwilioEmulator } from '../../tools/emulator';
import { generateKeyRingText } from '../../src/vault';
import { ACCOUNT_SID, AUDIT_KEY, AUTH_TOKEN, freePort, JWT_SECRET, startHarness, SUBJECT_KEY, waitFor, type Harness } from '../support/harness';
import { expectNoStreamErrors } from '../support/streams';
import { PrivateRedis } from '../support/private-redis';
import { ALICE_NUMBER, CALLER, makeFlowsDir } from '../support/agents';

const PUB = 'https://ivr.sigterm.test';
const IVR_NUMBER = '+15005550131';
const root = path.join(__dirname, '../..');

let redis: PrivateRedis;
let emulator: TwilioEmulator | undefined;
let flowsDir: string;
let a: ChildProcess | undefined;
let b: Harness | undefined;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  flowsDir = makeFlowsDir();
  fs.writeFileSync(
    path.join(flowsDir, 'ivr.yaml'),
    `id: ivr\nnumbers: ["${IVR_NUMBER}"]\nrecord: false\nsteps:\n  - collect: account\n    kind: digits\n    minLength: 4\n    maxLength: 6\n    prompt: "Key in your account number, then press hash."\n  - say: "Thank you."\n`,
  );
});

afterEach(() => {
  if (emulator) expectNoStreamErrors(emulator);
});

afterAll(async () => {
  if (a && a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
  await b?.close();
  await emulator?.close();
  await redis?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

async function nextLeg(call: EmulatedCall, before: MediaLeg | undefined, what: string): Promise<MediaLeg> {
  const leg = await waitFor(() => (call.leg && call.leg !== before && call.leg.isOpen ? call.leg : undefined), what, 15_000);
  await leg.opened;
  return leg;
}

it('SIGTERM with a live bridge and a call in the IVR: exit 0 before the deadline, both calls go on through the other instance', async () => {
  const aPort = await freePort();
  const aUrl = `http://127.0.0.1:${aPort}`;
  const aMedia = 'https://media-a.tonewall.test';
  const em = (emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, origins: { [PUB]: aUrl, [aMedia]: aUrl } }));
  const shared = {
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: em.baseUrl,
    VAULT_KEYS: generateKeyRingText('k1'),
    AGENT_JWT_SECRET: JWT_SECRET,
    SUBJECT_KEY,
    AUDIT_KEY,
    REDIS_URL: redis.url,
    FLOWS_DIR: flowsDir,
    PROCESSORS_FILE: path.join(root, 'test/fixtures/no-processors.yaml'),
  };
  // node itself (tsx as a loader, not its CLI, which would stand between the signal and the service)
  const child = (a = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      ...shared,
      PORT: String(aPort),
      HOST: '127.0.0.1',
      PUBLIC_URL: PUB,
      MEDIA_PUBLIC_URL: aMedia,
      INSTANCE_ID: 'instance-a',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const hb = (b = await startHarness({ flowsDir, publicUrl: PUB, ownMediaUrl: true, emulator: em, keyPrefix: 'tw:', env: shared }));
  await waitFor(
    async () => {
      try {
        return (await fetch(`${aUrl}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    'instance A ready',
    20_000,
  );

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
  expect(output).toContain('shutting down');
  expect(output).not.toContain('shutdown deadline passed');
  release();

  // the bridge goes on through B
  await nextLeg(bridged, caller, "the caller's stream to B");
  await nextLeg(agentC, agent, "the agent's stream to B");
  await waitFor(() => hb.app.services.bridges.get(bridged.sid)?.state === 'bridged', 'bridged again on B', 15_000);
  expect(bridged.status).toBe('in-progress');

  // the IVR call's keys are collected on B, and its flow goes on
  await waitFor(async () => (await hb.app.services.audit.list(ivr.sid)).some((e) => e.type === 'field.collected'), 'the account collected on B', 15_000);
  await waitFor(() => ivr.transcript.some((t) => t.verb === 'Say' && t.text === 'Thank you.'), 'the flow went on', 15_000);

  await bridged.hangup();
  await agentC.ended;
}, 90_000);
