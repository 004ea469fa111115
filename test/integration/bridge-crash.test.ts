/**
 * The instance holding a bridge dies mid-capture (SIGKILL: nothing of it runs again). It is a
 * process of its own (`src/server.ts`, as deployed) beside an in-process instance on the same
 * Redis, behind one PUBLIC_URL. Twilio's streams to it break; each leg's <Redirect> after <Connect> reaches
 * the other instance, which takes the call up. The capture the dead instance was running is
 * ended there: its agent's recording resumed (not left paused for the rest of the call), its
 * lock released (a new capture runs), and no recording holds a key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startTwilioEmulator, type EmulatedCall, type MediaLeg, type TwilioEmulator } from '../../tools/emulator';
import { generateKeyRingText } from '../../src/vault';
import { ACCOUNT_SID, AUDIT_KEY, AUTH_TOKEN, freePort, JWT_SECRET, startHarness, SUBJECT_KEY, waitFor, type Harness } from '../support/harness';
import { expectNoStreamErrors } from '../support/streams';
import { atAgent, relayedThrough } from '../support/relay';
import { PrivateRedis } from '../support/private-redis';
import { ALICE_NUMBER, api, CALLER, keyed, makeFlowsDir, multimon, silence, token } from '../support/agents';

const PUB = 'https://ivr.crash.test';
const root = path.join(__dirname, '../..');

let redis: PrivateRedis;
let emulator: TwilioEmulator;
let flowsDir: string;
let a: ChildProcess | undefined;
let b: Harness | undefined;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  flowsDir = makeFlowsDir();
});

// no message either instance sent on any stream is one Twilio refuses (31924)
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

it('an instance killed mid-capture: the call goes on through another, its capture ended there and its recording resumed', async () => {
  const aPort = await freePort();
  const aUrl = `http://127.0.0.1:${aPort}`;
  // A's media streams on an origin of its own, https as Twilio needs (it dials wss only)
  const aMedia = 'https://media-a.tonewall.test';
  emulator = await startTwilioEmulator({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, origins: { [PUB]: aUrl, [aMedia]: aUrl } });
  const vaultKeys = generateKeyRingText('k1');
  const shared = {
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: emulator.baseUrl,
    VAULT_KEYS: vaultKeys,
    AGENT_JWT_SECRET: JWT_SECRET,
    SUBJECT_KEY,
    AUDIT_KEY,
    REDIS_URL: redis.url,
    FLOWS_DIR: flowsDir,
    PROCESSORS_FILE: path.join(root, 'test/fixtures/no-processors.yaml'),
  };
  // node itself (tsx as a loader, not its CLI, which runs the service in a child a kill would miss)
  a = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
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
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  b = await startHarness({
    flowsDir,
    publicUrl: PUB,
    ownMediaUrl: true,
    emulator,
    keyPrefix: 'tw:',
    env: shared,
    build: { lostCaptureGraceMs: 300 },
  });
  const hb = b;
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

  let agentCall: EmulatedCall | undefined;
  emulator.onOutboundCall((c) => (agentCall ??= c));
  const call = await emulator.placeCall({ from: CALLER, to: ALICE_NUMBER, voiceUrl: `${PUB}/twilio/voice`, statusCallback: `${PUB}/twilio/status` });
  const caller = await call.legReady;
  const agentC = await waitFor(() => agentCall, 'the agent call', 10_000);
  const agent = await agentC.legReady;
  await waitFor(async () => (await hb.app.services.calls.get(call.sid))?.state === 'bridged', 'bridged on A', 10_000);
  expect((await hb.app.services.calls.get(call.sid))?.instanceId).toBe('instance-a');
  await waitFor(() => agentC.recordingStatus === 'in-progress', "the agent call's recording", 10_000);

  // a capture asked on B runs on A, which holds the bridge; the recording is paused for it
  const alice = token(hb, 'alice');
  const started = await api(hb, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(started.status).toBe(201);
  const lostId = (started.body as { captureId: string }).captureId;
  await waitFor(() => agentC.recordingStatus === 'paused', 'the recording paused for the capture', 10_000);
  await caller.sendAudio(keyed('4111'));

  // A dies; the load balancer sends Twilio elsewhere
  emulator.routeOrigin(PUB, hb.url);
  a.kill('SIGKILL');

  const caller2 = await nextLeg(call, caller, "the caller's stream to B");
  const agent2 = await nextLeg(agentC, agent, "the agent's stream to B");
  await waitFor(() => hb.app.services.bridges.get(call.sid)?.state === 'bridged', 'bridged again on B', 15_000);
  expect(caller2.url.startsWith(hb.config.mediaPublicUrl.replace(/^https/, 'wss'))).toBe(true);
  expect(agent2.url.startsWith(hb.config.mediaPublicUrl.replace(/^https/, 'wss'))).toBe(true);
  expect(call.status).toBe('in-progress');

  // the dead instance's capture is ended on B, its recording resumed
  const lost = await waitFor(
    async () => {
      const r = (await api(hb, 'GET', `/v1/calls/${call.sid}/captures/${lostId}`, alice)).body as { status: string; reason?: string };
      return r.status === 'failed' ? r : null;
    },
    'the lost capture ended',
    10_000,
  );
  expect(lost).toMatchObject({ status: 'failed', reason: 'bridge-lost' });
  await waitFor(() => agentC.recordingStatus === 'in-progress', 'the recording resumed', 10_000);
  expect(agentC.recordings).toHaveLength(1);

  // a new capture runs on B, and the card goes nowhere but the vault
  const again = await api(hb, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(again.status).toBe(201);
  await waitFor(() => agentC.recordingStatus === 'paused', 'paused for the new capture', 10_000);
  const from = caller2.sentBytes;
  await caller2.sendAudio(keyed('4111111111111111#'));
  const done = await waitFor(
    async () => {
      const r = (await api(hb, 'GET', `/v1/calls/${call.sid}/captures/${(again.body as { captureId: string }).captureId}`, alice)).body as {
        status: string;
        masked?: string;
      };
      return r.status === 'completed' ? r : null;
    },
    'the new capture completed',
    15_000,
  );
  expect(done).toMatchObject({ masked: '************1111' });
  await caller2.sendAudio(silence(1600));
  await waitFor(() => agentC.recordingStatus === 'in-progress', 'resumed after the new capture', 10_000);
  await relayedThrough(hb, caller2, agent2);
  expect(multimon(agent2.received.subarray(atAgent(hb, caller2, from)))).toBe('');

  await call.hangup();
  await agentC.ended;
  expect(multimon(agentC.recordingAudio)).toBe('');
  const trail = (await hb.app.services.audit.list(call.sid)).map((e) => e.type);
  expect(trail).toEqual(expect.arrayContaining(['bridge.resumed', 'bridge.agent-rejoining', 'capture.failed', 'capture.completed']));
  // the dead instance never said its bridge was lost: only B's take-up is in the trail
  expect(trail).not.toContain('bridge.lost');
}, 90_000);
