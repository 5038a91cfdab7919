// nsc binary: `node dist/examples/nsc/main.js`, run inside the workload's network namespace.
// Prints one JSON line per connection on stdout, holds the connections until SIGTERM/SIGINT.
import { hostname } from 'node:os';
import { loadConfigOrExit } from '../../sdk/tools/config/index.js';
import { logger } from '../../sdk/tools/log.js';
import { startNsc } from './client.js';
import { nscSchema } from './config.js';

const log = logger('nsc');
const config = loadConfigOrExit('nsc', nscSchema);

try {
  const nsc = await startNsc({
    name: config.name ?? `nsc-${hostname()}`,
    connectTo: config.connectTo,
    networkServices: config.networkServices,
    labels: config.labels,
    requestTimeoutMs: config.requestTimeout,
    maxTokenLifetimeMs: config.maxTokenLifetime,
    livenessCheck: config.livenessCheckEnabled,
    livenessIntervalMs: config.livenessCheckInterval,
    livenessTimeoutMs: config.livenessCheckTimeout,
  });
  for (const conn of nsc.connections) process.stdout.write(`${JSON.stringify({ connection: conn })}\n`);
  const keepAlive = setInterval(() => {}, 1 << 30);
  const stop = async () => {
    clearInterval(keepAlive);
    await nsc.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (e) {
  log.error({ err: e }, 'nsc failed');
  process.stderr.write(`nsc: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
