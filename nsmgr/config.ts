// nsmgr's configuration: one schema, read from NSM_* variables; the README's env table is
// generated from it (npm run env-tables).
import { loggingSchema, t } from '../sdk/tools/config/index.js';
import { identitySchema } from '../sdk/tools/spiffe/config.js';

export const nsmgrSchema = {
  name: t.string({
    env: 'NSM_NAME',
    description: 'Name of this nsmgr, used in path segments. Default: nsmgr-<hostname>.',
  }),
  listenOn: t.urlList({
    env: 'NSM_LISTEN_ON',
    description:
      'Where to serve: a unix socket for local clients, endpoints and forwarders, and tcp for remote nsmgrs.',
    default: 'unix:///var/lib/networkservicemesh/nsm.io.sock,tcp://127.0.0.1:5001',
    listen: true,
  }),
  publicURL: t.url({
    env: 'NSM_PUBLIC_URL',
    description: 'URL remote peers use to reach this nsmgr (default: the tcp URL in NSM_LISTEN_ON).',
  }),
  registryURL: t.url({
    env: 'NSM_REGISTRY_URL',
    description: 'The registry (tcp://host:port or unix:///path).',
    default: 'tcp://127.0.0.1:5002',
  }),
  maxTokenLifetime: t.duration({
    env: 'NSM_MAX_TOKEN_LIFETIME',
    description: 'Lifetime of the tokens and expiry this nsmgr puts on path segments.',
    default: '10m',
  }),
  forwarderServiceName: t.string({
    env: 'NSM_FORWARDER_NETWORK_SERVICE_NAME',
    description: 'Service name under which forwarders register.',
    default: 'forwarder',
  }),
  ...identitySchema,
  ...loggingSchema,
};
