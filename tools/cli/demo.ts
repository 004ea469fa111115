/**
 * `npm run demo`: the whole system on embedded defaults. Generated secrets, the embedded store,
 * the sample flows and the project's own Twilio emulator; one simulated caller goes through the
 * payments flow (a recorded menu, then account, card, expiry, security code while the recording
 * is paused), and the
 * demo prints the conversation, the recording timeline and the agent's masked handoff. When the
 * bridge is available it goes on into bridge mode (see demo-bridge.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { startTwilioEmulator, type TimelineEntry } from '../emulator';
import { generateKeyRingText } from '../../src/vault';
import { freePort } from '../free-port';
import { DEMO_CARD } from './demo-values';

const CALLER = '+15551234567';
const PAYMENTS_NUMBER = '+15005550006';

function expiryNextYear(): string {
  const d = new Date();
  return String(d.getUTCMonth() + 1).padStart(2, '0') + String((d.getUTCFullYear() + 1) % 100).padStart(2, '0');
}

const say = (s = '') => process.stdout.write(s + '\n');

function describeEntry(e: TimelineEntry): string | undefined {
  switch (e.type) {
    case 'webhook':
      return `webhook  ${e.method} ${new URL(e.url).pathname} → ${e.status}`;
    case 'recording':
      return `recording ${e.status}`;
    case 'gather':
      return `gather   answered (${e.digits}) while recording was ${e.recordingStatus}`;
    case 'rest':
      return `REST     ${e.method} ${e.path.replace(/\/2010-04-01\/Accounts\/AC\w+/, '…')} → ${e.status}`;
    default:
      return undefined;
  }
}

async function main(): Promise<void> {
  const accountSid = 'AC' + randomBytes(16).toString('hex');
  const authToken = randomBytes(16).toString('hex');
  const port = await freePort();
  const localUrl = `http://127.0.0.1:${port}`;
  // as deployed: Twilio is given an https origin (it opens media streams over wss only) and the
  // emulator plays the TLS-terminating proxy in front of the service's plain port
  const publicUrl = 'https://tonewall.demo.test';
  const emulator = await startTwilioEmulator({ accountSid, authToken, origins: { [publicUrl]: localUrl } });
  const root = path.join(__dirname, '../..');
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: publicUrl,
    TWILIO_ACCOUNT_SID: accountSid,
    TWILIO_AUTH_TOKEN: authToken,
    TWILIO_API_BASE_URL: emulator.baseUrl,
    VAULT_KEYS: generateKeyRingText('demo'),
    AGENT_JWT_SECRET: randomBytes(32).toString('hex'),
    SUBJECT_KEY: randomBytes(32).toString('hex'),
    AUDIT_KEY: randomBytes(32).toString('hex'),
    METRICS_PORT: '0',
    FLOWS_DIR: path.join(root, 'config/flows'),
    PROCESSORS_FILE: path.join(root, 'config/processors.yaml'),
    LOG_LEVEL: 'warn',
  });
  // the service's own log lines go to a sink: the demo prints the conversation instead
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const app = await buildApp(config, { logStream: sink });
  await app.listen({ port, host: '127.0.0.1' });
  say(`tonewall demo: service on ${localUrl} as ${publicUrl} (embedded store), Twilio emulator on ${emulator.baseUrl}`);
  say();

  const answers = ['1#', `73920584#`, `${DEMO_CARD}#`, expiryNextYear(), '123#'];
  // the menu's answer is not sensitive, and the recording runs while it is keyed
  const menuKeys = answers[0];
  say(`caller ${CALLER} dials ${PAYMENTS_NUMBER} (the payments flow)`);
  const call = await emulator.placeCall({
    from: CALLER,
    to: PAYMENTS_NUMBER,
    voiceUrl: `${publicUrl}/twilio/voice`,
    statusCallback: `${publicUrl}/twilio/status`,
    onGather: (g) => {
      const keys = answers.shift() ?? null;
      say(`  caller hears: "${g.prompt.join(' ')}"`);
      say(`  caller keys ${keys ? keys.replace(/\d/g, '•') : 'nothing'}`);
      return keys;
    },
  });
  const deadline = Date.now() + 15_000;
  while (!call.transcript.some((t) => t.verb === 'Connect/Stream' || t.verb === 'Dial' || t.verb === 'Hangup')) {
    if (Date.now() > deadline) throw new Error('the call did not reach its handoff');
    await new Promise((r) => setTimeout(r, 20));
  }

  say();
  say('TwiML the caller was served, verb by verb:');
  for (const t of call.transcript) {
    if (t.verb === 'Say') say(`  Say      "${t.text}"`);
    else if (t.verb === 'Gather') say(`  Gather   ${t.prompt.join(' ')} [${t.result}, ${t.digitCount} keys]`);
    else if (t.verb === 'Connect/Stream') say(`  Connect  <Stream> (bridge mode, DTMF masking)`);
    else if (t.verb === 'Start/Recording') say(`  Start    <Recording channels="${t.channels}"> (the recording begins)`);
    else say(`  ${t.verb}`);
  }
  say();
  say('timeline (webhooks, REST calls to Twilio, recording state):');
  for (const e of emulator.timelineFor(call.sid)) {
    const line = describeEntry(e);
    if (line) say(`  ${String(Math.round(e.t)).padStart(6)} ms  ${line}`);
  }
  // the menu is not sensitive (and is recorded); every other Gather asks for a sensitive value
  const sensitive = call.gathers.slice(1);
  const paused = sensitive.length > 0 && sensitive.every((g) => g.recordingStatus === 'paused');
  say();
  say(`every sensitive Gather answered while the recording was paused: ${paused ? 'yes' : 'NO'}`);

  const token = app.services.auth.sign({ sub: 'demo-supervisor', endpoint: 'client:supervisor', role: 'supervisor' });
  const res = await fetch(`${localUrl}/v1/calls/${call.sid}`, { headers: { authorization: `Bearer ${token}` } });
  const view = (await res.json()) as { from: string; state: string; fields: Record<string, unknown> };
  say();
  say(`masked handoff, as the agent sees it (GET /v1/calls/${call.sid}):`);
  say(JSON.stringify({ from: view.from, state: view.state, fields: view.fields }, null, 2).replace(/^/gm, '  '));

  const bridgeDemo = path.join(__dirname, 'demo-bridge');
  let ok = paused && res.status === 200;
  if (existsSync(bridgeDemo + '.ts') || existsSync(bridgeDemo + '.js')) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runBridgeDemo } = require(bridgeDemo) as { runBridgeDemo: (x: unknown) => Promise<boolean> };
    ok = (await runBridgeDemo({ app, emulator, call, apiUrl: localUrl, say, recordedKeys: menuKeys, lookaheadMs: config.maskLookaheadMs })) && ok;
  } else {
    await call.hangup();
  }
  await call.ended.catch(() => undefined);
  await app.close();
  await emulator.close();
  say();
  say(ok ? 'demo complete' : 'demo finished with problems');
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
