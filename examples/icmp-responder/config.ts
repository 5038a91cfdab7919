// The icmp-responder endpoint's configuration (upstream cmd-nse-icmp-responder's names).
import { hostname } from 'node:os';
import { type ConfigOf, loggingSchema, t } from '../../sdk/tools/config/index.js';
import { identitySchema } from '../../sdk/tools/spiffe/config.js';
import type { IcmpResponderOptions } from './server.js';

export const icmpResponderSchema = {
  name: t.string({
    env: 'NSM_NAME',
    description: 'Name of this endpoint. Default: icmp-responder-<hostname>.',
  }),
  connectTo: t.url({
    env: 'NSM_CONNECT_TO',
    description: 'The local nsmgr.',
    default: 'unix:///var/lib/networkservicemesh/nsm.io.sock',
  }),
  listenOn: t.url({
    env: 'NSM_LISTEN_ON',
    description:
      'Where the endpoint serves (default: a socket named after NSM_NAME next to the nsmgr socket).',
    listen: true,
  }),
  serviceNames: t.stringList({
    env: 'NSM_SERVICE_NAMES',
    description: 'Network services this endpoint serves (comma-separated).',
    required: true,
  }),
  labels: t.labels({
    env: 'NSM_LABELS',
    description: 'Labels of this endpoint (k1=v1,k2=v2), matched by NetworkService destination selectors.',
    default: '',
  }),
  cidrPrefix: t.cidrList({
    env: 'NSM_CIDR_PREFIX',
    description: 'Address pools for point-to-point IPAM (comma-separated CIDRs; IPv4 and/or IPv6).',
    default: '169.254.0.0/16',
  }),
  pbrConfigPath: t.string({
    env: 'NSM_PBR_CONFIG_PATH',
    description:
      "Upstream's policy-based-routing YAML (a list of {from, proto, srcport, dstport, routes: [{prefix, nexthop}]}), handed to clients as ip_context.policies. Empty: none.",
    default: '',
  }),
  payload: t.enumOf(['ETHERNET', 'IP'] as const, {
    env: 'NSM_PAYLOAD',
    description: 'Payload of the network services it registers.',
    default: 'ETHERNET',
  }),
  registerService: t.bool({
    env: 'NSM_REGISTER_SERVICE',
    description: 'Register the network services too, when the registry does not have them yet.',
    default: 'true',
  }),
  maxLeasesPerClient: t.int({
    env: 'NSM_MAX_LEASES_PER_CLIENT',
    description:
      "Most connections one client (the path's first segment) may hold addresses for at once. Default: half of the pool.",
    min: 1,
    max: 1_000_000_000,
  }),
  maxTokenLifetime: t.duration({
    env: 'NSM_MAX_TOKEN_LIFETIME',
    description: 'Lifetime of the tokens and expiry this endpoint puts on path segments.',
    default: '10m',
  }),
  ...identitySchema,
  ...loggingSchema,
};

/** The endpoint options of an icmp-responder config (the L7 gateway, which is one, adds its own). */
export function icmpResponderOptions(
  config: ConfigOf<typeof icmpResponderSchema>,
  kind: string,
): IcmpResponderOptions {
  return {
    name: config.name ?? `${kind}-${hostname()}`,
    connectTo: config.connectTo,
    listenOn: config.listenOn,
    serviceNames: config.serviceNames,
    labels: config.labels,
    cidrPrefix: config.cidrPrefix,
    pbrConfigPath: config.pbrConfigPath || undefined,
    payload: config.payload,
    registerService: config.registerService,
    maxTokenLifetimeMs: config.maxTokenLifetime,
    maxLeasesPerClient: config.maxLeasesPerClient,
  };
}
