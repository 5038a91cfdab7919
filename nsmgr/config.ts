// nsmgr's configuration: one schema, read from NSM_* variables; the README's env table is
// generated from it (npm run env-tables).

import { hostname } from 'node:os';
import { authzPolicySchema } from '../sdk/tools/authzpolicy/config.js';
import { type ConfigOf, loggingSchema, t } from '../sdk/tools/config/index.js';
import { identitySchema } from '../sdk/tools/spiffe/config.js';
import type { NsmgrOptions } from './server.js';

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
  nodeName: t.string({
    env: 'NODE_NAME',
    description:
      'Node this nsmgr runs on (upstream: from the pod spec); requests get it as the nodeName label. Default: the hostname.',
  }),
  allowForeignNetns: t.bool({
    env: 'NSM_ALLOW_FOREIGN_NETNS',
    description:
      "Test harnesses only: accept KERNEL requests naming a network namespace the calling process is not in (by default such a request is refused with PERMISSION_DENIED, as upstream's fd passing guarantees).",
    default: 'false',
  }),
  operatorNetns: t.string({
    env: 'NSM_OPERATOR_NETNS',
    description:
      "Network namespaces (files, comma separated) whose root processes are operators: MonitorConnections shows them every connection (nsmctl). The nsmgr's own namespace and pid 1's (the host's) always count; everyone else sees only their own connections.",
    default: '',
  }),
  excludedPrefixesFile: t.string({
    env: 'NSM_EXCLUDED_PREFIXES_FILE',
    description:
      'YAML file (`prefixes: [CIDR, ...]`) of prefixes no endpoint may hand out, e.g. the pod and service CIDRs; read again when it changes. A missing file means none.',
    default: '/var/lib/networkservicemesh/config/excluded_prefixes.yaml',
  }),
  ...authzPolicySchema,
  ...identitySchema,
  ...loggingSchema,
};

/** What startNsmgr gets from the variables (the nsmgr binary and the nodeagent). */
export function nsmgrOptions(config: ConfigOf<typeof nsmgrSchema>): NsmgrOptions {
  return {
    name: config.name ?? `nsmgr-${hostname()}`,
    listenOn: config.listenOn,
    publicURL: config.publicURL,
    registryURL: config.registryURL,
    maxTokenLifetimeMs: config.maxTokenLifetime,
    forwarderServiceName: config.forwarderServiceName,
    nodeName: config.nodeName ?? hostname(),
    allowForeignNetns: config.allowForeignNetns,
    operatorNetns: config.operatorNetns
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    excludedPrefixesFile: config.excludedPrefixesFile,
    authzPolicyFile: config.authzPolicyFile,
  };
}
