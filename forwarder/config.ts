// The kernel forwarder's configuration, read from NSM_* variables.
import { hostname } from 'node:os';
import { type ConfigOf, loggingSchema, t } from '../sdk/tools/config/index.js';
import { identitySchema } from '../sdk/tools/spiffe/config.js';
import type { ForwarderOptions } from './server.js';

export const forwarderSchema = {
  name: t.string({
    env: 'NSM_NAME',
    description:
      'Name of this forwarder; it is registered under this name and marks the links it makes. Default: forwarder-<hostname>.',
  }),
  listenOn: t.url({
    env: 'NSM_LISTEN_ON',
    description: 'Where the forwarder serves (a unix socket the local nsmgr can reach).',
    default: 'unix:///var/lib/networkservicemesh/forwarder.sock',
    listen: true,
  }),
  connectTo: t.url({
    env: 'NSM_CONNECT_TO',
    description: 'The local nsmgr.',
    default: 'unix:///var/lib/networkservicemesh/nsm.io.sock',
  }),
  tunnelIP: t.ip({
    env: 'NSM_TUNNEL_IP',
    description:
      "This node's underlay address for VXLAN tunnels (an address on one of the node's interfaces).",
    required: true,
  }),
  vxlanPort: t.int({
    env: 'NSM_VXLAN_PORT',
    description: 'UDP port of VXLAN tunnels.',
    default: '4789',
    min: 1,
    max: 65535,
  }),
  vethMtu: t.int({
    env: 'NSM_VETH_MTU',
    description: 'MTU of local veth connections when the connection context does not set one.',
    default: '1500',
    min: 576,
    max: 65535,
  }),
  kernelNetlink: t.bool({
    env: 'NSM_KERNEL_NETLINK',
    description:
      'Program links, addresses, routes and neighbours over rtnetlink from this process (false: every change runs iproute2, as before; for comparison or debugging).',
    default: 'true',
  }),
  labels: t.labels({
    env: 'NSM_LABELS',
    description:
      'Labels of this forwarder (k1=v1,k2=v2), for NetworkService forwarder selection; p2p=true as upstream forwarders.',
    default: 'p2p=true',
  }),
  maxTokenLifetime: t.duration({
    env: 'NSM_MAX_TOKEN_LIFETIME',
    description: 'Lifetime of the tokens and expiry this forwarder puts on path segments.',
    default: '10m',
  }),
  reconcileGrace: t.duration({
    env: 'NSM_RECONCILE_GRACE',
    description:
      'After a restart, how long links made by the previous run wait for their connection to be refreshed before they are deleted. Default: NSM_MAX_TOKEN_LIFETIME.',
  }),
  ...identitySchema,
  ...loggingSchema,
};

/** What startForwarder gets from the variables (the forwarder binary and the nodeagent). */
export function forwarderOptions(config: ConfigOf<typeof forwarderSchema>): ForwarderOptions {
  return {
    name: config.name ?? `forwarder-${hostname()}`,
    listenOn: config.listenOn,
    connectTo: config.connectTo,
    tunnelIP: config.tunnelIP,
    vxlanPort: config.vxlanPort,
    vethMtu: config.vethMtu,
    kernelNetlink: config.kernelNetlink,
    labels: config.labels,
    maxTokenLifetimeMs: config.maxTokenLifetime,
    reconcileGraceMs: config.reconcileGrace,
  };
}
