// The registry daemon's configuration: one schema, read from NSM_* environment variables.

import { authzPolicySchema } from '../sdk/tools/authzpolicy/config.js';
import { type ConfigOf, loggingSchema, t } from '../sdk/tools/config/index.js';
import { identitySchema } from '../sdk/tools/spiffe/config.js';

export { LOG_LEVELS } from '../sdk/tools/log.js';

export const registrySchema = {
  name: t.string({
    env: 'NSM_NAME',
    default: 'registry',
    description: 'Name of this registry, shown in its logs',
  }),
  listenOn: t.url({
    env: 'NSM_LISTEN_ON',
    default: 'tcp://:5002',
    listen: true,
    description:
      'Address to serve both registries on: tcp://host:port (empty host: all interfaces) or unix:///path',
  }),
  expirePeriodMs: t.duration({
    env: 'NSM_EXPIRE_PERIOD',
    default: '1m',
    min: 1,
    description: 'Lease of an endpoint registration; endpoints not refreshed within it are removed',
  }),
  backend: t.enumOf(['memory', 'k8s'] as const, {
    env: 'NSM_REGISTRY_BACKEND',
    default: 'memory',
    description: 'Store: memory, or k8s (custom resources; credentials from KUBECONFIG, else the pod)',
  }),
  k8sNamespace: t.string({
    env: 'NSM_K8S_NAMESPACE',
    description:
      "k8s store: namespace of the objects (default: the pod's, else the kubeconfig's, else default)",
  }),
  ...authzPolicySchema,
  ...identitySchema,
  ...loggingSchema,
};

export type RegistryConfig = ConfigOf<typeof registrySchema>;
