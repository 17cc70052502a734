/**
 * The entry point: read the configuration, build the app, listen, and shut
 * down gracefully on SIGTERM or SIGINT (stop accepting connections, let
 * in-flight registrations finish writing, then exit).
 */
import './heap.js';
import { ConfigError, loadConfig } from './config.js';
import { buildApp } from './app.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`glow-companion: configuration error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const app = await buildApp(config);
  for (const warning of config.warnings) app.log.warn(warning);

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await app.listen({ port: config.port, host: config.host });
  app.log.info({ roster: config.rosterPath }, 'GLOW Companion is ready');
}

main().catch((error: unknown) => {
  process.stderr.write(`glow-companion: could not start: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
