/**
 * The process: read the configuration, build the app, listen, and stop cleanly on SIGTERM or
 * SIGINT (not ready at once, end media streams, pass on the calls that still come for
 * SHUTDOWN_DRAIN_MS, then finish in-flight requests and exit, within 10 s).
 */
import 'dotenv/config';
import { buildApp } from './app';
import { ConfigError, DEFAULT_METRICS_PORT, loadConfig, type Config } from './config';
import { errFields } from './log';

/** the contract's bound on a graceful stop */
const SHUTDOWN_DEADLINE_MS = 10_000;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tonewall: configuration error: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  let app: Awaited<ReturnType<typeof buildApp>>;
  try {
    app = await buildApp(config);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    process.stderr.write(`tonewall: cannot start: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}\n`);
    process.exit(1);
  }
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (e) {
    // a port taken or not ours to bind is PORT's to fix; an address not on this machine, or a name that does not resolve, HOST's
    const err = e as { code?: string; message?: string };
    const variable = err.code === 'EADDRINUSE' || err.code === 'EACCES' ? 'PORT' : 'HOST';
    process.stderr.write(`tonewall: cannot start: ${variable}: cannot listen on ${config.host} port ${config.port}: ${err.code ?? err.message ?? String(e)}\n`);
    process.exit(1);
  }
  // METRICS_PORT set and not to be had stops the start; its default busy is warned (ops/metrics-server.ts)
  try {
    const metricsUrl = await app.services.metricsServer.listen();
    if (metricsUrl) app.log.info({ metricsUrl }, 'metrics listening');
  } catch (e) {
    // as for the public port: a port taken is METRICS_PORT's to fix, an address not this machine's METRICS_HOST's
    const code = (e as { code?: string }).code;
    const variable = code === undefined || code === 'EADDRINUSE' || code === 'EACCES' ? 'METRICS_PORT' : 'METRICS_HOST';
    const value = variable === 'METRICS_HOST' ? config.metrics.host : (config.metrics.port ?? DEFAULT_METRICS_PORT);
    process.stderr.write(`tonewall: cannot start: ${variable} ${value}: ${(e as Error).message}\n`);
    process.exit(1);
  }

  let stopping = false;
  const stop = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    // not ready from now: /readyz answers 503, new calls and lost bridges' callers are passed on
    app.services.draining = true;
    const drainMs = exitCode === 0 ? config.shutdownDrainMs : 0;
    app.log.info({ signal, drainMs }, 'shutting down: no new calls, closing streams');
    const deadline = setTimeout(() => {
      app.log.error('shutdown deadline passed: exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    // the port stays open through the drain, for what still reaches this instance before its load
    // balancer sees /readyz fail: the streams end at once, so their calls' next requests come while
    // the instance can pass them on; a port closed at once refuses them, and Twilio ends the call
    // the wait runs from the signal, beside the streams' and captures' end (a capture's resume may
    // take seconds): after it, a long drain would leave the close none of the 10 s. A drain that
    // failed is logged, and the close still runs (held audit entries' last try, the store's close).
    const drained =
      drainMs > 0
        ? Promise.all([
            app.services.live.drain().catch((err: unknown) => app.log.error({ err: errFields(err) }, 'drain failed: closing')),
            new Promise<void>((r) => setTimeout(r, drainMs)),
          ])
        : Promise.resolve();
    drained
      .then(() => app.close())
      .then(
        () => process.exit(exitCode),
        (err: unknown) => {
          app.log.error({ err: errFields(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Twilio could not be asked at start and, asked again, refused the REST configuration: the
  // service never became ready and cannot; it stops as it would have at start, naming the setting
  app.services.restCheck.onRefused((err) => {
    process.stderr.write(`tonewall: cannot start: ${err.code}: ${err.message}\n`);
    stop('rest-check', 1);
  });
}

void main();
