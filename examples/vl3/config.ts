// The vL3 endpoint's configuration (upstream cmd-nse-vl3-vpp's names where they exist).
import { loggingSchema, t } from '../../sdk/tools/config/index.js';
import { icmpResponderSchema } from '../icmp-responder/config.js';

export const vl3Schema = {
  name: t.string({
    env: 'NSM_NAME',
    description:
      'Name of this replica (its slice is kept under it: a restart under the same name gets it back). Default: vl3-<hostname>.',
  }),
  // Where it registers and serves: as every example endpoint.
  connectTo: icmpResponderSchema.connectTo,
  listenOn: icmpResponderSchema.listenOn,
  serviceName: t.string({
    env: 'NSM_SERVICE_NAMES',
    description: 'The vL3 network service (one name); it is also the DNS zone of its members.',
    required: true,
  }),
  labels: t.labels({
    env: 'NSM_LABELS',
    description: 'Labels of this replica (k1=v1,k2=v2), matched by NetworkService destination selectors.',
    default: '',
  }),
  prefixServerURL: t.url({
    env: 'NSM_PREFIX_SERVER_URL',
    description: 'The vl3-ipam daemon that hands out the slices of the vL3 prefix.',
    required: true,
  }),
  prefix: t.cidrList({
    env: 'NSM_VL3_PREFIX',
    description: 'The whole vL3 prefix (as vl3-ipam serves it): members get a route to it.',
    default: '172.16.0.0/16',
  }),
  dnsPort: t.int({
    env: 'NSM_DNS_PORT',
    description: "UDP port of the members' DNS server on the replica's vL3 address (0: no DNS).",
    default: '53',
    min: 0,
    max: 65535,
  }),
  peerPollInterval: t.duration({
    env: 'NSM_PEER_POLL_INTERVAL',
    description: 'How often the registry is asked for the other replicas (and peer links are repaired).',
    default: '1s',
    min: 50,
  }),
  requestTimeout: t.duration({
    env: 'NSM_REQUEST_TIMEOUT',
    description: 'Timeout of one peer link request.',
    default: '15s',
  }),
  stateFile: t.string({
    env: 'NSM_STATE_FILE',
    description:
      'File for the member table (which member holds which address), so that a replica restarted under its name gives members their addresses back. Empty: only what the kernel shows.',
    default: '',
  }),
  maxTokenLifetime: t.duration({
    env: 'NSM_MAX_TOKEN_LIFETIME',
    description: 'Lifetime of the tokens and expiry this endpoint puts on path segments.',
    default: '10m',
  }),
  ...loggingSchema,
};
