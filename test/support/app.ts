/**
 * The real app, built with real plugins and a real Redis (a private key prefix), but listening
 * on no port: requests go through Fastify's inject(). For tests whose point is a route's answer;
 * tests about the network (webhooks from the emulator, media streams, agent sockets, the panel
 * in Chromium) use harness.ts instead.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import path from 'node:path';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { RedisStore } from '../../src/store';
import { generateKeyRingText } from '../../src/vault';
import { ACCOUNT_SID, AUTH_TOKEN, JWT_SECRET, LogCapture } from './harness';
import { redisUrl, uniquePrefix } from './redis';

export interface InjectedApp {
  app: FastifyInstance;
  logs: LogCapture;
  /** a bearer token for `sub` with `role`, signed as the app expects */
  token(sub: string, role?: 'agent' | 'supervisor' | 'admin'): string;
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function buildInjectedApp(env: Record<string, string> = {}): Promise<InjectedApp> {
  const config = loadConfig({
    PUBLIC_URL: 'https://ivr.tonewall.test',
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    // nothing listens here: a route test that reached Twilio's REST API would fail loudly
    TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
    VAULT_KEYS: generateKeyRingText('k1'),
    AGENT_JWT_SECRET: JWT_SECRET,
    FLOWS_DIR: path.join(__dirname, '../../config/flows'),
    PROCESSORS_FILE: path.join(__dirname, '../fixtures/no-processors.yaml'),
    LOG_LEVEL: 'debug',
    REDIS_URL: redisUrl(),
    ...env,
  });
  const store = new RedisStore(config.redisUrl!);
  await store.connect();
  const logs = new LogCapture();
  const app = await buildApp(config, { logStream: logs, keyPrefix: uniquePrefix('inject'), store });
  await app.ready();
  return {
    app,
    logs,
    token: (sub, role = 'agent') => app.services.auth.sign({ sub, endpoint: `client:${sub}`, role }),
    inject: (opts) => app.inject(opts),
    close: async () => {
      await app.close();
      await store.close();
    },
  };
}
