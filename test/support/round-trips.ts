/**
 * Store round trips of one call's webhooks, counted as Redis sees them (MONITOR): what
 * test/integration/webhook-write.test.ts and webhook-write-dropin.test.ts hold the webhooks to.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { waitFor, type Harness } from './harness';
import { redisUrl } from './redis';

/**
 * The commands this app's client sent Redis for one call while `fn` ran, as Redis ran them
 * (MONITOR): top level only, each a round trip; the commands a script runs inside it are
 * reported with the source "lua" and left out. A call's commands name its CallSid (its session
 * and trail keys), its replay record or a vault envelope (whose key names a token, not the call:
 * the tests run one call at a time).
 */
export async function roundTrips(h: Harness, callSid: string, fn: () => Promise<unknown>): Promise<string[][]> {
  const replayKey = h.app.services.replay.recordKey(callSid);
  const vaultKeys = h.app.services.keys.vault('');
  // A line of another client's that reaches the connection just before it counts itself as
  // monitoring (a busy Redis: parallel test files), or after its disconnect, is reported as an
  // error of its command queue, with no listener as `redis.monitor()` sets it up. Neither is this
  // call's (the marker bounds the window) and an exact count would catch one missing all the
  // same: the listener is there from the start.
  const monitor = new Redis(redisUrl(), { monitor: true, lazyConnect: true });
  monitor.on('error', () => undefined);
  const monitoring = new Promise((resolve) => monitor.once('monitoring', resolve));
  await monitor.connect();
  await monitoring;
  const seen: { args: string[]; source: string }[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ args, source }));
  try {
    await fn();
    // MONITOR reports commands in the order Redis ran them: once this one shows, so have the call's
    const marker = `marker-${randomBytes(6).toString('hex')}`;
    const client = new Redis(redisUrl());
    await client.echo(marker);
    client.disconnect();
    await waitFor(() => seen.some((c) => c.args[0]?.toLowerCase() === 'echo' && c.args[1] === marker), 'the MONITOR marker');
  } finally {
    monitor.disconnect();
  }
  return seen.filter((c) => c.source !== 'lua' && c.args.some((a) => a.includes(callSid) || a === replayKey || a.startsWith(vaultKeys))).map((c) => c.args);
}

/** a command's name, a script's as `script` (EVALSHA, or EVAL the first time a script runs on a connection) */
export const named = (commands: string[][]) => commands.map((c) => (/^eval(sha)?$/i.test(c[0]) ? 'script' : c[0].toLowerCase()));

/** one signed POST of Twilio's to `url`, with the round trips it cost the call */
export async function postCounted(
  h: Harness,
  callSid: string,
  url: string,
  params: Record<string, string>,
): Promise<{ status: number; body: string; sent: string[][] }> {
  let answer = { status: 0, body: '' };
  const sent = await roundTrips(h, callSid, async () => {
    answer = await h.emulator.signedPost(url, params);
  });
  return { status: answer.status, body: answer.body, sent };
}
