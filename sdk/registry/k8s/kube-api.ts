// The narrow view of the Kubernetes API the k8s backend needs: CRUD of one kind of custom resource in one
// namespace, plus what an informer needs (a list function, a Watch and the path). Tests replace it with a
// fake; production builds it from a KubeConfig with @kubernetes/client-node.
import * as fs from 'node:fs';
import { CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import { type Cr, GROUP, VERSION } from './common.js';

export interface CrList {
  items: Cr[];
  metadata?: { resourceVersion?: string };
}

/** What ListWatch calls: the shape of client-node's Watch. */
export interface WatchLike {
  watch(
    path: string,
    queryParams: Record<string, unknown>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<{ abort(): void }>;
}

export interface CrApi {
  /** `/apis/GROUP/VERSION/namespaces/NS/PLURAL`, the informer's watch path. */
  readonly path: string;
  readonly watcher: WatchLike;
  list(): Promise<CrList>;
  get(name: string): Promise<Cr>;
  create(cr: Cr): Promise<Cr>;
  /** Update; `cr.metadata.resourceVersion` makes it conditional (409 Conflict when stale). */
  replace(name: string, cr: Cr): Promise<Cr>;
  /** Delete; with `resourceVersion`, only if the object is still at that version (409 otherwise). */
  delete(name: string, resourceVersion?: string): Promise<void>;
  /** Closes idle connections. */
  close(): void;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Credentials: the file `kubeconfig` (or $KUBECONFIG) when given; otherwise the pod's service account when
 * running in a pod; otherwise client-node's defaults (~/.kube/config).
 */
export function loadKubeConfig(kubeconfig?: string): KubeConfig {
  const kc = new KubeConfig();
  const file = kubeconfig || process.env.KUBECONFIG;
  if (file) kc.loadFromFile(file);
  else if (process.env.KUBERNETES_SERVICE_HOST && fs.existsSync(`${SA_DIR}/token`)) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** The namespace to use when none is configured: the pod's own, else the kubeconfig context's, else default. */
export function defaultNamespace(kc?: KubeConfig): string {
  try {
    const ns = fs.readFileSync(`${SA_DIR}/namespace`, 'utf8').trim();
    if (ns) return ns;
  } catch {
    // not in a pod
  }
  const ctx = kc?.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || 'default';
}

/**
 * client-node 1.x builds a new https.Agent for every call, so every Register paid a TLS handshake (measured
 * here: 26-30 ms per call against 9-12 ms with one keep-alive agent). Every call of this KubeConfig shares
 * one agent instead; the options are the same for every call of one cluster and user. Returns the agent's
 * destroy.
 */
function shareOneAgent(kc: KubeConfig): () => void {
  type AgentFactory = (cluster: unknown, opts: Record<string, unknown>) => { destroy(): void };
  const target = kc as unknown as { createAgent: AgentFactory };
  const create = target.createAgent.bind(kc);
  let agent: ReturnType<AgentFactory> | undefined;
  target.createAgent = (cluster, opts) => {
    agent ??= create(cluster, { ...opts, keepAlive: true });
    return agent;
  };
  return () => agent?.destroy();
}

export function newCrApi(kc: KubeConfig, namespace: string, plural: string): CrApi {
  const destroyAgent = shareOneAgent(kc);
  const api = kc.makeApiClient(CustomObjectsApi);
  const base = { group: GROUP, version: VERSION, namespace, plural };
  return {
    path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`,
    watcher: new Watch(kc) as unknown as WatchLike,
    list: () => api.listNamespacedCustomObject(base) as Promise<CrList>,
    get: (name) => api.getNamespacedCustomObject({ ...base, name }) as Promise<Cr>,
    create: (cr) => api.createNamespacedCustomObject({ ...base, body: cr }) as Promise<Cr>,
    replace: (name, cr) => api.replaceNamespacedCustomObject({ ...base, name, body: cr }) as Promise<Cr>,
    delete: async (name, resourceVersion) => {
      await api.deleteNamespacedCustomObject({
        ...base,
        name,
        body: resourceVersion ? { preconditions: { resourceVersion } } : {},
      });
    },
    close: destroyAgent,
  };
}
