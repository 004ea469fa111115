/**
 * METRICS_PORT left at its default on a host where that port is taken (a second instance, as
 * REDIS_URL allows any number of them, or another exporter): warned, and the service runs on
 * without the listener. Set by the operator and taken: refused, as they asked for that port.
 * The default is named through buildApp's defaultMetricsPort, so the test never needs 9464 free;
 * which of the two it is comes from the environment, as in production.
 */
import { buildApp } from '../../../src/app';
import { loadConfig } from '../../../src/config';
import { minimalEnv } from '../../support/env';
import { freePort } from '../../support/free-port';
import { LogCapture } from '../../support/harness';

const env = { ...minimalEnv(), LOG_LEVEL: 'warn', METRICS_HOST: '127.0.0.1', TWILIO_API_BASE_URL: 'http://127.0.0.1:9' };

const portWarnings = (logs: LogCapture) =>
  logs.lines.map((l) => JSON.parse(l) as { level: number; variable?: string; port?: number }).filter((l) => l.level === 40 && l.variable === 'METRICS_PORT');

test('two instances on one host with METRICS_PORT unset: the first serves /metrics on the default port, the second warns and runs on', async () => {
  const port = await freePort();
  const logs = [new LogCapture(), new LogCapture()];
  const apps = [];
  try {
    for (const log of logs) apps.push(await buildApp(loadConfig(env), { logStream: log, defaultMetricsPort: port }));
    expect(await apps[0].services.metricsServer.listen()).toBe(`http://127.0.0.1:${port}`);
    expect(await apps[1].services.metricsServer.listen()).toBeUndefined();
    expect(portWarnings(logs[0])).toEqual([]);
    expect(portWarnings(logs[1])).toEqual([expect.objectContaining({ variable: 'METRICS_PORT', port })]);
    // the second runs on: its public routes answer, and the first instance's listener is untouched
    expect((await apps[1].inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
  } finally {
    for (const app of apps) await app.close();
  }
});

test('METRICS_PORT set by the operator and taken: the listener refuses (server.ts stops), with no warning', async () => {
  const port = await freePort();
  const first = await buildApp(loadConfig(env), { logStream: new LogCapture(), defaultMetricsPort: port });
  const logs = new LogCapture();
  const second = await buildApp(loadConfig({ ...env, METRICS_PORT: String(port) }), { logStream: logs, defaultMetricsPort: port + 1 });
  try {
    await first.services.metricsServer.listen();
    await expect(second.services.metricsServer.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(portWarnings(logs)).toEqual([]);
  } finally {
    await first.close();
    await second.close();
  }
});
