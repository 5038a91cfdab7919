// Where the cluster tool keeps things and which versions it builds. Everything here can be overridden by an
// NSM_K8S_* environment variable so that CI can point several runs at one warm cache.
import * as os from 'node:os';
import * as path from 'node:path';

/** The Kubernetes release built from the Go module proxy (builds with Go >= 1.25 without a toolchain switch). */
export const K8S_VERSION = process.env.NSM_K8S_VERSION ?? 'v1.35.4';
/** The etcd release that K8S_VERSION itself requires. */
export const ETCD_VERSION = process.env.NSM_K8S_ETCD_VERSION ?? 'v3.6.5';

/**
 * Cache root, outside the repository so that every checkout and CI run on one machine shares the build:
 * binaries, wrapper modules, GOMODCACHE and GOCACHE (the first build takes 10-25 min on 2 cores, a warm one
 * seconds).
 */
export const CACHE_DIR = path.resolve(process.env.NSM_K8S_CACHE ?? '/var/cache/nsm-ts/k8s');
export const GOMODCACHE = process.env.NSM_K8S_GOMODCACHE ?? path.join(CACHE_DIR, 'gomod');
export const GOCACHE = process.env.NSM_K8S_GOCACHE ?? path.join(CACHE_DIR, 'gocache');
export const BIN_DIR = path.join(CACHE_DIR, K8S_VERSION, 'bin');
export const IMAGE_DIR = path.join(CACHE_DIR, 'images');

/** Default state directory of `up` / `down` (one cluster per host: kube-proxy chains are global). */
export const DEFAULT_CLUSTER_DIR = path.resolve(process.env.NSM_K8S_CLUSTER_DIR ?? '/var/lib/nsm-ts/cluster');

/** Kubernetes binaries built from k8s.io/kubernetes/cmd/<name>. */
export const K8S_BINARIES = [
  'kube-apiserver',
  'kubectl',
  'kubelet',
  'kube-controller-manager',
  'kube-scheduler',
  'kube-proxy',
] as const;

/** Locally built images; nothing can be pulled, so pods name these fully qualified with IfNotPresent. */
export const PAUSE_IMAGE = 'nsm-ts.local/pause:1';
export const PROJECT_IMAGE = process.env.NSM_K8S_IMAGE ?? 'nsm-ts.local/nsm:dev';

/** Pod range of the cluster: node N gets the /24 number N-1 of it (10.244.0.0/24, 10.244.1.0/24, ...). */
export const CLUSTER_CIDR = process.env.NSM_K8S_CLUSTER_CIDR ?? '10.244.0.0/16';
/** Nodes 2.. live in their own network namespace, linked to the host by a veth in 172.30.N.0/24. */
export const NODE_NET_PREFIX = process.env.NSM_K8S_NODE_NET_PREFIX ?? '172.30';
export const NODES = Number(process.env.NSM_K8S_NODES ?? '1');
export const SERVICE_CIDR = process.env.NSM_K8S_SERVICE_CIDR ?? '10.96.0.0/24';

/** Debian packages the node needs (apt-get installs the missing ones). */
export const APT_PACKAGES = [
  'containerd',
  'runc',
  'containernetworking-plugins',
  'iptables',
  'conntrack',
  'openssl',
];
export const CNI_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

export function hostName(): string {
  return (process.env.NSM_K8S_NODE_NAME ?? os.hostname()).toLowerCase().replace(/[^a-z0-9.-]/g, '-');
}
