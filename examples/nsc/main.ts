// nsc binary: `node dist/examples/nsc/main.js`, run inside the workload's network namespace.
// Prints one JSON line per connection on stdout, holds the connections until SIGTERM/SIGINT.
import { hostname } from 'node:os';
import { runDaemon } from '../../sdk/tools/daemon.js';
import { withIdentity } from '../../sdk/tools/spiffe/config.js';
import { startNsc } from './client.js';
import { nscSchema } from './config.js';

await runDaemon('nsc', nscSchema, (config) =>
  withIdentity(config, async () => {
    const nsc = await startNsc({
      name: config.name ?? `nsc-${hostname()}`,
      connectTo: config.connectTo,
      networkServices: config.networkServices,
      labels: config.labels,
      awarenessGroups: config.awarenessGroups,
      requestTimeoutMs: config.requestTimeout,
      maxTokenLifetimeMs: config.maxTokenLifetime,
      livenessCheck: config.livenessCheckEnabled,
      livenessIntervalMs: config.livenessCheckInterval,
      livenessTimeoutMs: config.livenessCheckTimeout,
      livenessGraceMs: config.livenessCheckGrace,
      dnsResolvConf: config.dnsResolvConf || undefined,
      l7Bypass: config.l7Bypass,
      l7Iptables: config.l7Iptables,
    });
    for (const conn of nsc.connections) process.stdout.write(`${JSON.stringify({ connection: conn })}\n`);
    // The connections are held by timers (refresh, heal); this keeps the process up in between.
    const keepAlive = setInterval(() => {}, 1 << 30);
    return {
      close: async () => {
        clearInterval(keepAlive);
        await nsc.close();
      },
    };
  }),
);
