// The client's configuration (upstream cmd-nsc's names).
import { type AwarenessGroup, parseAwarenessGroups } from '../../sdk/tools/awarenessgroups/index.js';
import { type Field, loggingSchema, t } from '../../sdk/tools/config/index.js';
import { identitySchema } from '../../sdk/tools/spiffe/config.js';

export const nscSchema = {
  name: t.string({
    env: 'NSM_NAME',
    description: 'Name of this client; connection ids are NAME-0, NAME-1, ... Default: nsc-<hostname>.',
  }),
  connectTo: t.url({
    env: 'NSM_CONNECT_TO',
    description: 'The local nsmgr.',
    default: 'unix:///var/lib/networkservicemesh/nsm.io.sock',
  }),
  networkServices: t.string({
    env: 'NSM_NETWORK_SERVICES',
    description: 'NSURLs to connect to, comma-separated: kernel://SERVICE[@DOMAIN]/IFNAME?label=value',
    required: true,
  }),
  awarenessGroups: {
    env: 'NSM_AWARENESS_GROUPS',
    description:
      'Groups of NSURLs whose connections may overlap each other (same addresses or routes), e.g. [kernel://ns-1/nsm-1,kernel://ns-2/nsm-2],[kernel://ns-3/nsm-3]; connections in different groups or in none are kept apart. See README, Awareness groups.',
    default: '',
    parse: parseAwarenessGroups,
  } satisfies Field<AwarenessGroup[]>,
  labels: t.labels({
    env: 'NSM_LABELS',
    description: 'Labels added to every request (k1=v1,k2=v2).',
    default: '',
  }),
  requestTimeout: t.duration({
    env: 'NSM_REQUEST_TIMEOUT',
    description: 'Timeout of one Request.',
    default: '15s',
  }),
  maxTokenLifetime: t.duration({
    env: 'NSM_MAX_TOKEN_LIFETIME',
    description: 'Lifetime of the token and expiry on the client path segment.',
    default: '10m',
  }),
  livenessCheckEnabled: t.bool({
    env: 'NSM_LIVENESS_CHECK_ENABLED',
    description: 'Check the data plane of each connection and heal when it stops answering.',
    default: 'true',
  }),
  livenessCheckInterval: t.duration({
    env: 'NSM_LIVENESS_CHECK_INTERVAL',
    description: 'How often the data plane is checked.',
    default: '200ms',
  }),
  livenessCheckTimeout: t.duration({
    env: 'NSM_LIVENESS_CHECK_TIMEOUT',
    description: 'How long one data-plane check waits for an answer.',
    default: '1s',
  }),
  livenessCheckGrace: t.duration({
    env: 'NSM_LIVENESS_CHECK_GRACE',
    description:
      'How long a failed data-plane check waits for the path to report the failure itself (a reselect when the endpoint died) before healing.',
    default: '150ms',
  }),
  dnsResolvConf: t.string({
    env: 'NSM_DNS_RESOLV_CONF',
    description:
      "resolv.conf to point at the client's DNS forwarder (127.0.0.1:53) while a connection carries dns_context: mesh domains go to the mesh, other names to the nameservers the file had. Empty: dns_context is not applied. In a pod: /etc/resolv.conf; for `ip netns exec NAME`: /etc/netns/NAME/resolv.conf.",
    default: '',
  }),
  l7Bypass: t.enumOf(['auto', 'always', 'off'], {
    env: 'NSM_L7_BYPASS',
    description:
      "Keep the connections' traffic out of an L7 sidecar's iptables REDIRECT (nat OUTPUT RETURN rule per connection; ?l7=capture in the NSURL opts out). auto: if the nat table redirects; always: fail the Request without the rule; off: never. See README, L7 sidecars.",
    default: 'auto',
  }),
  l7Iptables: t.string({
    env: 'NSM_L7_IPTABLES',
    description:
      'The iptables command for those rules: the backend the sidecar used (iptables-legacy for a legacy sidecar); ip6tables is derived from it.',
    default: 'iptables',
  }),
  ...identitySchema,
  ...loggingSchema,
};
