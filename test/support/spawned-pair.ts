/**
 * Two instances on one private Redis behind one PUBLIC_URL, for a test of what one instance's end
 * leaves to the other: A, a process of its own (`src/server.ts`, as deployed), whose media streams
 * on an origin of its own; B, an in-process harness (the test reads the store and the bridges
 * through it); and, for a test that asks, a third, C, in process too. The Redis and the flows (the agent flows, and the file's own) are made before the
 * file's tests and removed after, with A (killed if it still runs), B and the emulator; after each
 * test no message either instance sent on any stream is one Twilio refuses (31924).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BuildOptions } from '../../src/app';
import { generateKeyRingText } from '../../src/vault';
import { startTwilioEmulator, type TwilioEmulator } from '../../tools/emulator';
import { makeFlowsDir } from './agents';
import { ACCOUNT_SID, AUDIT_KEY, AUTH_TOKEN, freePort, JWT_SECRET, startHarness, SUBJECT_KEY, waitFor, type Harness } from './harness';
import { PrivateRedis } from './private-redis';
import { expectNoStreamErrors } from './streams';

const root = path.join(__dirname, '../..');

export interface SpawnedPair {
  emulator: TwilioEmulator;
  /** instance A, the process */
  a: ChildProcess;
  /** A's own http origin */
  aUrl: string;
  /** A's exit code, once it exited */
  exited: Promise<number | null>;
  /** what A wrote to stdout and stderr so far */
  readonly output: string;
  /** instance B, in process */
  b: Harness;
  /** instance C, in process, when the test asked for a third (`c`) */
  c?: Harness;
  /** the Redis both are on, for a test that freezes it under them */
  redis: PrivateRedis;
}

export interface SpawnedPairOptions {
  /** PUBLIC_URL of both, routed to A until the test routes it elsewhere */
  publicUrl: string;
  /** A's LOG_LEVEL */
  logLevel: string;
  /** B's build options */
  build?: Partial<BuildOptions>;
  /** a third instance, C, in process as B is, with these build options */
  c?: Partial<BuildOptions>;
  /** A's environment besides the pair's own (SHUTDOWN_DRAIN_MS, say) */
  aEnv?: Record<string, string>;
}

/** `flows`: the file's own flows besides the agent flows (file name, without .yaml, to YAML) */
export function spawnedPairSuite(flows: Record<string, string> = {}): { start(opts: SpawnedPairOptions): Promise<SpawnedPair> } {
  let redis: PrivateRedis;
  let flowsDir: string;
  let pair: SpawnedPair | undefined;
  let a: ChildProcess | undefined;
  let b: Harness | undefined;
  let c: Harness | undefined;
  let emulator: TwilioEmulator | undefined;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    flowsDir = makeFlowsDir();
    for (const [name, yaml] of Object.entries(flows)) fs.writeFileSync(path.join(flowsDir, `${name}.yaml`), yaml);
  });

  afterEach(() => {
    if (emulator) expectNoStreamErrors(emulator);
  });

  afterAll(async () => {
    if (a && a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
    await c?.close();
    await b?.close();
    await emulator?.close();
    await redis?.close();
    fs.rmSync(flowsDir, { recursive: true, force: true });
  });

  return {
    async start(opts: SpawnedPairOptions): Promise<SpawnedPair> {
      if (pair) throw new Error('one spawned pair a file');
      const aPort = await freePort();
      const aUrl = `http://127.0.0.1:${aPort}`;
      // A's media streams on an origin of its own, https as Twilio needs (it dials wss only)
      const aMedia = 'https://media-a.tonewall.test';
      const em = (emulator = await startTwilioEmulator({
        accountSid: ACCOUNT_SID,
        authToken: AUTH_TOKEN,
        origins: { [opts.publicUrl]: aUrl, [aMedia]: aUrl },
      }));
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
      // node itself (tsx as a loader, not its CLI, which runs the service in a child of its own:
      // it would stand between a signal and the service, and a kill would miss the service)
      const child = (a = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          ...shared,
          PORT: String(aPort),
          HOST: '127.0.0.1',
          PUBLIC_URL: opts.publicUrl,
          MEDIA_PUBLIC_URL: aMedia,
          INSTANCE_ID: 'instance-a',
          METRICS_PORT: '0',
          LOG_LEVEL: opts.logLevel,
          ...opts.aEnv,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }));
      let output = '';
      child.stdout!.on('data', (d) => (output += d));
      child.stderr!.on('data', (d) => (output += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const hb = (b = await startHarness({
        flowsDir,
        publicUrl: opts.publicUrl,
        ownMediaUrl: true,
        emulator: em,
        keyPrefix: 'tw:',
        env: shared,
        build: opts.build,
      }));
      const hc = (c = opts.c
        ? await startHarness({ flowsDir, publicUrl: opts.publicUrl, ownMediaUrl: true, emulator: em, keyPrefix: 'tw:', env: shared, build: opts.c })
        : undefined);
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
      pair = {
        emulator: em,
        a: child,
        aUrl,
        exited,
        get output() {
          return output;
        },
        b: hb,
        ...(hc ? { c: hc } : {}),
        redis,
      };
      return pair;
    },
  };
}
