// What the webhook does to one pod: the answer to an AdmissionReview, as a pure function so it is tested
// without an apiserver.
//
// A pod that asks for network services (annotation `networkservicemesh.io` on the pod, or on its
// namespace) gets the client as a *native sidecar*: an init container with `restartPolicy: Always`
// (Kubernetes ≥ 1.29). The kubelet starts it before the app containers and holds them back until its
// startup probe sees every requested interface in the pod, so the app starts connected (what upstream's
// separate cmd-nsc-init is for); the same process then keeps the connections (refresh, heal) and closes
// them when the pod stops, after the app containers. One process instead of upstream's init + sidecar
// pair means no hand-over of connections between them.
//
// The pod also gets the exclusion annotations of Istio and Linkerd for its mesh interfaces
// (l7-annotations.ts), so an L7 sidecar does not capture mesh traffic unless an NSURL asks (`l7=capture`).
//
// An annotation that does not parse is denied (kubectl prints the message, which names the bad NSURL);
// on UPDATE the pod is not changed (its containers are immutable), only a new annotation is checked.
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node';
import { getErrorMessage } from '../sdk/errors/index.js';
import { parseNsurlList } from '../sdk/tools/nsurl/index.js';
import type { WebhookConfig } from './config.js';
import { l7Annotations } from './l7-annotations.js';

/** Name of the injected container; its presence also marks a pod as already done. */
export const CONTAINER_NAME = 'nsm-nsc';
export const SOCKET_VOLUME = 'nsm-socket';
export const PODINFO_VOLUME = 'nsm-podinfo';
/** Where the hot-plug client finds the pod's annotations (a downward-API volume). */
export const PODINFO_DIR = '/etc/nsm/podinfo';
/** The kubelet checks the interfaces this often until they are there (1 s is its minimum period). */
const STARTUP_PROBE_PERIOD_S = 1;
/** 120 checks: the client retries a failed start (kubelet restart backoff) well within this. */
const STARTUP_PROBE_FAILURES = 120;

export type MutateConfig = Pick<
  WebhookConfig,
  | 'annotation'
  | 'excludedNamespaces'
  | 'image'
  | 'args'
  | 'imagePullPolicy'
  | 'hotplug'
  | 'nsurlEnvName'
  | 'envs'
  | 'labels'
  | 'socketHostPath'
  | 'socketPerNode'
  | 'limitsMemory'
  | 'limitsCpu'
  | 'requestsMemory'
  | 'requestsCpu'
  | 'l7Annotations'
  | 'l7ServicePrefixes'
>;

/** The parts of admission.k8s.io/v1 AdmissionRequest we read. */
export interface AdmissionRequest {
  uid: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  namespace?: string;
  object?: V1Pod;
}

export interface JsonPatchOp {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

/** admission.k8s.io/v1 AdmissionResponse. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  patchType?: 'JSONPatch';
  /** base64 of the JSON patch. */
  patch?: string;
}

export interface MutateInput {
  request: AdmissionRequest;
  /** Annotations of the pod's namespace (undefined: unknown or none). */
  namespaceAnnotations?: Record<string, string>;
  config: MutateConfig;
  /** Random suffix for NSM_NAME of pods with a fixed name (injectable for tests). */
  suffix?: () => string;
}

export interface MutateResult {
  response: AdmissionResponse;
  /** The patch before encoding (tests and logs). */
  patch?: JsonPatchOp[];
}

/** JSON pointer escaping of one path segment (RFC 6901). */
export function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The NSURL list the pod asks for: its own annotation first, else its namespace's. */
export function requestedServices(
  pod: V1Pod,
  annotation: string,
  namespaceAnnotations?: Record<string, string>,
): string | undefined {
  const own = pod.metadata?.annotations?.[annotation];
  if (own !== undefined && own.trim() !== '') return own;
  const inherited = namespaceAnnotations?.[annotation];
  return inherited !== undefined && inherited.trim() !== '' ? inherited : undefined;
}

export function mutate(input: MutateInput): MutateResult {
  const { request, config } = input;
  const allow: MutateResult = { response: { uid: request.uid, allowed: true } };
  const pod = request.object;
  if (!pod || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return allow;
  const namespace = request.namespace ?? pod.metadata?.namespace ?? '';
  if (config.excludedNamespaces.includes(namespace)) return allow;

  const value = requestedServices(pod, config.annotation, input.namespaceAnnotations);
  if (value === undefined) return allow;
  let ifnames: string[];
  let annotations: Record<string, string>;
  try {
    const urls = parseNsurlList(value);
    ifnames = urls.flatMap((u) => (u.interfaceName ? [u.interfaceName] : []));
    annotations = config.l7Annotations
      ? l7Annotations(urls, pod.metadata?.annotations, { servicePrefixes: config.l7ServicePrefixes })
      : {};
  } catch (e) {
    const source = pod.metadata?.annotations?.[config.annotation] ? 'pod' : `namespace ${namespace}`;
    return {
      response: {
        uid: request.uid,
        allowed: false,
        status: {
          code: 400,
          reason: 'BadRequest',
          message: `annotation ${config.annotation} of the ${source}: ${getErrorMessage(e)}`,
        },
      },
    };
  }
  // UPDATE: containers cannot change; a pod that already has the client needs nothing either
  // (the webhook may be called again for the same pod: reinvocation, or an apply of a mutated pod).
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  if (request.operation === 'UPDATE' || containers.some((c) => c.name === CONTAINER_NAME)) return allow;

  const patch = podPatch(pod, value, ifnames, annotations, input);
  return {
    response: {
      uid: request.uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
    },
    patch,
  };
}

function podPatch(
  pod: V1Pod,
  value: string,
  ifnames: string[],
  annotations: Record<string, string>,
  input: MutateInput,
): JsonPatchOp[] {
  const { config } = input;
  const patch: JsonPatchOp[] = [];
  const spec = pod.spec;
  // A pod with a fixed name can be deleted and created again while its old connections still expire
  // at the nsmgr: a suffix keeps the connection ids (NSM_NAME-<i>) apart, as upstream does.
  const fixedName = !pod.metadata?.generateName;
  const suffix = input.suffix ?? (() => Math.random().toString(16).slice(2, 8));
  // Hot-plug follows the pod's own annotation (the downward API has no namespace annotations).
  const hotplug = config.hotplug && pod.metadata?.annotations?.[config.annotation] !== undefined;
  const container = sidecar(value, ifnames, fixedName ? `-${suffix()}` : '', config, hotplug);
  // First among the init containers: the app's own init containers already see the interfaces.
  if (spec?.initContainers && spec.initContainers.length > 0)
    patch.push({ op: 'add', path: '/spec/initContainers/0', value: container });
  else patch.push({ op: 'add', path: '/spec/initContainers', value: [container] });

  const volumes: V1Volume[] = [
    { name: SOCKET_VOLUME, hostPath: { path: config.socketHostPath, type: 'DirectoryOrCreate' } },
  ];
  if (hotplug)
    volumes.push({
      name: PODINFO_VOLUME,
      downwardAPI: { items: [{ path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }] },
    });
  if (spec?.volumes && spec.volumes.length > 0)
    for (const value of volumes) patch.push({ op: 'add', path: '/spec/volumes/-', value });
  else patch.push({ op: 'add', path: '/spec/volumes', value: volumes });

  const labels = Object.entries(config.labels);
  if (labels.length > 0) {
    if (!pod.metadata?.labels) patch.push({ op: 'add', path: '/metadata/labels', value: config.labels });
    else
      for (const [k, v] of labels)
        patch.push({ op: 'add', path: `/metadata/labels/${escapePointer(k)}`, value: v });
  }
  // The L7 meshes' exclusions (merged with the pod's own values in l7Annotations).
  if (Object.keys(annotations).length > 0) {
    if (!pod.metadata?.annotations)
      patch.push({ op: 'add', path: '/metadata/annotations', value: annotations });
    else
      for (const [k, v] of Object.entries(annotations))
        patch.push({ op: 'add', path: `/metadata/annotations/${escapePointer(k)}`, value: v });
  }
  return patch;
}

function sidecar(
  value: string,
  ifnames: string[],
  nameSuffix: string,
  config: MutateConfig,
  hotplug: boolean,
): V1Container {
  const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  const env = [
    // $(VAR) references only see variables defined earlier in the list
    fieldEnv('POD_NAME', 'metadata.name'),
    fieldEnv('NODE_NAME', 'spec.nodeName'),
    ...Object.entries(config.envs).map(([name, v]) => ({ name, value: v })),
    { name: config.nsurlEnvName, value: value },
    { name: 'NSM_NAME', value: `$(POD_NAME)${nameSuffix}` },
    ...(hotplug
      ? [
          { name: 'NSM_ANNOTATIONS_FILE', value: `${PODINFO_DIR}/annotations` },
          { name: 'NSM_ANNOTATION', value: config.annotation },
        ]
      : []),
  ];
  const c: V1Container = {
    name: CONTAINER_NAME,
    image: config.image,
    imagePullPolicy: config.imagePullPolicy,
    args: config.args,
    env,
    restartPolicy: 'Always',
    resources: {
      limits: { memory: config.limitsMemory, cpu: config.limitsCpu },
      requests: { memory: config.requestsMemory, cpu: config.requestsCpu },
    },
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    volumeMounts: [
      {
        name: SOCKET_VOLUME,
        mountPath: config.socketHostPath,
        readOnly: true,
        ...(config.socketPerNode ? { subPathExpr: '$(NODE_NAME)' } : {}),
      },
      ...(hotplug ? [{ name: PODINFO_VOLUME, mountPath: PODINFO_DIR, readOnly: true }] : []),
    ],
  };
  if (ifnames.length > 0) {
    // The app waits for this probe: every named interface present in the pod's namespace.
    c.startupProbe = {
      exec: { command: ['sh', '-c', ifnames.map((n) => `ip link show dev ${n} >/dev/null`).join(' && ')] },
      periodSeconds: STARTUP_PROBE_PERIOD_S,
      failureThreshold: STARTUP_PROBE_FAILURES,
    };
  }
  return c;
}
