// The admission webhook's configuration: one schema, read from NSM_* variables (upstream
// cmd-admission-webhook-k8s's names where it has one); the README's env table is generated from it.
import { type ConfigOf, type FieldMeta, loggingSchema, parseLabels, t } from '../sdk/tools/config/index.js';

/** A Kubernetes resource quantity (100m, 1, 64Mi, 1.5Gi): checked here, not when a pod is refused. */
const QUANTITY = /^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;
function quantity<const M extends FieldMeta & { default: string }>(m: M) {
  const f = t.string(m);
  return {
    ...f,
    parse(raw: string): string {
      const v = raw.trim();
      if (!QUANTITY.test(v)) throw new Error('not a resource quantity (use e.g. 100m, 64Mi)');
      return v;
    },
  };
}

/** `service=CIDR CIDR,service2=CIDR`: the prefixes of each network service, space-separated per service. */
function servicePrefixes<const M extends FieldMeta & { default: string }>(m: M) {
  const cidrs = t.cidrList({ env: m.env, description: m.description, default: '' });
  return {
    ...t.labels(m),
    parse(raw: string): Record<string, string[]> {
      const out: Record<string, string[]> = {};
      for (const [service, list] of Object.entries(parseLabels(raw)))
        out[service] = cidrs.parse(list.split(/\s+/).join(','));
      return out;
    },
  };
}

export const FAILURE_POLICIES = ['Fail', 'Ignore'] as const;

export type WebhookConfig = ConfigOf<typeof webhookSchema>;

export const webhookSchema = {
  name: t.string({
    env: 'NSM_NAME',
    default: 'nsm-admission-webhook',
    description: 'Name of the MutatingWebhookConfiguration this webhook registers (and of its logs).',
  }),
  listenOn: t.url({
    env: 'NSM_LISTEN_ON',
    default: 'tcp://:8443',
    listen: true,
    description: 'Where to serve HTTPS (/mutate for the apiserver, /healthz for probes): tcp://host:port.',
  }),
  serviceName: t.string({
    env: 'NSM_SERVICE_NAME',
    default: 'admission-webhook',
    description:
      'The Service in front of this webhook; the serving certificate is made for <name>.<namespace>.svc.',
  }),
  namespace: t.string({
    env: 'NSM_NAMESPACE',
    default: 'nsm-system',
    description: 'Namespace of that Service (set it from the downward API: metadata.namespace).',
  }),
  servicePort: t.int({
    env: 'NSM_SERVICE_PORT',
    default: '443',
    min: 1,
    max: 65535,
    description: 'Port of that Service, written into the MutatingWebhookConfiguration.',
  }),
  register: t.bool({
    env: 'NSM_REGISTER',
    default: 'true',
    description:
      "Create or update the MutatingWebhookConfiguration (with this run's CA as caBundle) at start; false: serve only.",
  }),
  failurePolicy: t.enumOf(FAILURE_POLICIES, {
    env: 'NSM_FAILURE_POLICY',
    default: 'Fail',
    description:
      'What the apiserver does when the webhook cannot be reached: Fail (refuse the pod) or Ignore.',
  }),
  timeoutSeconds: t.int({
    env: 'NSM_TIMEOUT_SECONDS',
    default: '5',
    min: 1,
    max: 30,
    description: 'How long the apiserver waits for one admission answer.',
  }),
  annotation: t.string({
    env: 'NSM_ANNOTATION',
    default: 'networkservicemesh.io',
    description: 'Pod or namespace annotation that lists the NSURLs a pod asks for.',
  }),
  excludedNamespaces: t.stringList({
    env: 'NSM_EXCLUDED_NAMESPACES',
    default: 'kube-system,kube-public,kube-node-lease,nsm-system,spire',
    description:
      "Namespaces whose pods are never changed (the configuration's namespaceSelector leaves them out too).",
  }),
  image: t.string({
    env: 'NSM_CONTAINER_IMAGE',
    default: 'nsm-ts.local/nsm:dev',
    description: 'Image of the injected client container.',
  }),
  args: t.stringList({
    env: 'NSM_CONTAINER_ARGS',
    default: 'dist/examples/k8s/nsc/main.js',
    description:
      "Arguments of the injected client container (comma-separated; the image's entrypoint is node).",
  }),
  hotplug: t.bool({
    env: 'NSM_HOTPLUG',
    default: 'true',
    description:
      "Give the client the pod's annotations as a downward-API volume (NSM_ANNOTATIONS_FILE), so editing a pod's annotation adds or removes its interfaces.",
  }),
  imagePullPolicy: t.enumOf(['Always', 'IfNotPresent', 'Never'] as const, {
    env: 'NSM_IMAGE_PULL_POLICY',
    default: 'IfNotPresent',
    description: 'imagePullPolicy of the injected container.',
  }),
  nsurlEnvName: t.string({
    env: 'NSM_NSURL_ENV_NAME',
    default: 'NSM_NETWORK_SERVICES',
    description: "Variable of the injected container that gets the annotation's value.",
  }),
  envs: t.labels({
    env: 'NSM_ENVS',
    default: '',
    description: 'Extra variables of the injected container (K1=V1,K2=V2).',
  }),
  labels: t.labels({
    env: 'NSM_LABELS',
    default: '',
    description: 'Labels added to every pod that gets the client (k1=v1,k2=v2).',
  }),
  socketHostPath: t.string({
    env: 'NSM_SOCKET_HOST_PATH',
    default: '/var/lib/networkservicemesh',
    description: 'Host directory holding the nsmgr socket; mounted read-only at the same path.',
  }),
  socketPerNode: t.bool({
    env: 'NSM_SOCKET_PER_NODE',
    default: 'false',
    description:
      'Mount <host path>/<node name> instead (subPathExpr), for nodes sharing one filesystem; must match the nsmgr DaemonSet.',
  }),
  limitsMemory: quantity({
    env: 'NSM_SIDECAR_LIMITS_MEMORY',
    default: '120Mi',
    description: 'Memory limit of the injected container.',
  }),
  limitsCpu: quantity({
    env: 'NSM_SIDECAR_LIMITS_CPU',
    default: '200m',
    description: 'CPU limit of the injected container.',
  }),
  requestsMemory: quantity({
    env: 'NSM_SIDECAR_REQUESTS_MEMORY',
    default: '60Mi',
    description: 'Memory request of the injected container.',
  }),
  requestsCpu: quantity({
    env: 'NSM_SIDECAR_REQUESTS_CPU',
    default: '50m',
    description: 'CPU request of the injected container.',
  }),
  l7Annotations: t.bool({
    env: 'NSM_L7_ANNOTATIONS',
    default: 'true',
    description:
      "Set Istio's and Linkerd's exclusion annotations from the pod's NSURLs (not for l7=capture), merged with the pod's own. See README, L7 sidecars.",
  }),
  l7ServicePrefixes: servicePrefixes({
    env: 'NSM_L7_SERVICE_PREFIXES',
    default: '',
    description:
      'Prefixes of network services for the IP-range annotations: service=CIDR CIDR,service2=CIDR (a vL3 prefix).',
  }),
  ...loggingSchema,
};
