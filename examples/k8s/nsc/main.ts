// The client the admission webhook injects: `node dist/examples/k8s/nsc/main.js`. Like examples/nsc,
// plus hot-plug: with NSM_ANNOTATIONS_FILE it follows the pod's annotation while the pod runs.
import { hostname } from 'node:os';
import { runDaemon } from '../../../sdk/tools/daemon.js';
import { withIdentity } from '../../../sdk/tools/spiffe/config.js';
import { startHotplug } from './client.js';
import { nscK8sSchema } from './config.js';

await runDaemon('nsc-k8s', nscK8sSchema, (config) =>
  withIdentity(config, () =>
    startHotplug({
      name: config.name ?? `nsc-${hostname()}`,
      connectTo: config.connectTo,
      initial: config.networkServices,
      labels: config.labels,
      awarenessGroups: config.awarenessGroups,
      requestTimeoutMs: config.requestTimeout,
      maxTokenLifetimeMs: config.maxTokenLifetime,
      livenessCheck: config.livenessCheckEnabled,
      livenessIntervalMs: config.livenessCheckInterval,
      livenessTimeoutMs: config.livenessCheckTimeout,
      livenessGraceMs: config.livenessCheckGrace,
      annotationsFile: config.annotationsFile,
      annotation: config.annotation,
      pollIntervalMs: config.pollInterval,
      l7Bypass: config.l7Bypass,
      l7Iptables: config.l7Iptables,
    }),
  ),
);
