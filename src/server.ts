/**
 * The process: read the configuration, build the app, listen, and stop cleanly on SIGTERM or
 * SIGINT (not ready at once, end media streams, pass on the calls that still come for
 * SHUTDOWN_DRAIN_MS, then finish in-flight requests and exit, within 10 s: each step within its
 * time, the held audit entries' last try and count always before the exit, a second signal
 * stopping at once; process-stop.ts).
 */
import 'dotenv/config';
import type { EventEmitter } from 'node:events';
import pino from 'pino';
import { buildApp } from './app';
import { ConfigError, DEFAULT_METRICS_PORT, loadConfig, type Config } from './config';
import { ProcessStop } from './process-stop';

/** how long the exit waits for the log to be written out (process-stop.ts keeps it within the deadline) */
const EXIT_FLUSH_MS = 200;

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

  // the stop's steps, each within its time (process-stop.ts)
  const stopper = new ProcessStop({
    log: app.services.log,
    // not ready from now: /readyz answers 503, new calls and lost bridges' callers are passed on
    markDraining: () => (app.services.draining = true),
    drain: () => app.services.live.drain(),
    close: () => app.close(),
    lastTry: (budgetMs) => app.services.audit.close(budgetMs),
    // the log's last lines (the count of audit entries not written) are out before the exit: pino
    // writes asynchronously, and its flush at exit skips a write still under way, which then
    // came out after the lines behind it, if at all. The exit's own line is written, and the
    // stream's 'drain' (everything written) awaited, EXIT_FLUSH_MS at most.
    exit: (code) => {
      const exit = () => process.exit(code);
      setTimeout(exit, EXIT_FLUSH_MS);
      const stream = (app.services.log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as Partial<EventEmitter> | undefined;
      stream?.once?.('drain', exit);
      app.services.log.info({ code }, 'shutdown: exiting');
    },
  });
  // the port stays open through the drain, for what still reaches this instance before its load
  // balancer sees /readyz fail: the streams end at once, so their calls' next requests come while
  // the instance can pass them on; a port closed at once refuses them, and Twilio ends the call
  const stop = (signal: string, exitCode = 0) => stopper.signal(signal, exitCode === 0 ? config.shutdownDrainMs : 0, exitCode);
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
