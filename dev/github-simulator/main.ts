/**
 * Runs the GitHub simulator as its own process:
 *
 *   node --import tsx dev/github-simulator/main.ts [--port N] [--seed FILE] [--latency MS] [--app-key-out FILE]
 *
 * Prints one JSON line on stdout, `{"url":"http://127.0.0.1:N", ...}`, once it
 * listens, and serves until SIGTERM or SIGINT.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createGitHubSimulator } from './server.js';
import { readSeedFile } from './seed.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    seed: { type: 'string' },
    latency: { type: 'string' },
    'app-key-out': { type: 'string' },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be 0..65535, not ${values.port}`);
  process.exit(2);
}

const sim = createGitHubSimulator({ port, host: values.host, latencyMs: values.latency ? Number(values.latency) : undefined });
let seeded = null;
if (values.seed) {
  const { seed, baseDir } = readSeedFile(values.seed);
  seeded = sim.seed(seed, baseDir);
}
if (values['app-key-out']) {
  const key = sim.app.privateKeyPem;
  if (!key) {
    console.error('--app-key-out: the App was given only a public key');
    process.exit(2);
  }
  writeFileSync(values['app-key-out'], key, { mode: 0o600 });
}

const url = await sim.start();
// Token values stay out of the output: the seed's author has them already.
const summary = seeded && { ...seeded, tokens: seeded.tokens.map(({ fingerprint, login }) => ({ fingerprint, login })) };
process.stdout.write(`${JSON.stringify({ url, pid: process.pid, seeded: summary })}\n`);

let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  void sim.stop().then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
