// `up`: a cluster whose whole state lives in one directory. Order: etcd, kube-apiserver, controller-manager,
// scheduler, then per node containerd (+ images), kube-proxy and kubelet; Ready when every node reports Ready
// and the default ServiceAccount exists (pods can be created). On any failure everything started so far is
// torn down again, logs kept.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { binPath, build, missingBinaries } from './build.js';
import { kubectl } from './clients.js';
import { CLUSTER_CIDR, hostName, K8S_VERSION, NODES, SERVICE_CIDR } from './config.js';
import { down } from './down.js';
import { log, run, waitFor } from './exec.js';
import { ensureHostDeps, NODE_HOST_PATHS, readSysctls, snapshotIptables } from './host.js';
import { ensurePauseImage, importImage } from './image.js';
import { createNodeNetwork, planNode, startContainerd, startKubelet } from './node.js';
import { generatePki, writeKubeconfig } from './pki.js';
import {
  type ClusterState,
  type NodeState,
  readState,
  runningPids,
  startDaemon,
  writeState,
} from './state.js';

const NODE_READY_TIMEOUT_MS = 180_000;
const APISERVER_TIMEOUT_MS = 90_000;
/** Unix socket paths (containerd's, under DIR/node-N) must stay below 108 bytes. */
const MAX_DIR_LENGTH = 60;

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.on('error', reject);
          s.listen(0, '0.0.0.0', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function defaultNodeIp(): Promise<string> {
  if (process.env.NSM_K8S_NODE_IP) return process.env.NSM_K8S_NODE_IP;
  const r = await run('ip', ['-4', 'route', 'get', '1.1.1.1'], { allowFail: true });
  const src = / src (\d+\.\d+\.\d+\.\d+)/.exec(r.stdout)?.[1];
  if (src) return src;
  const a = await run('ip', ['-4', '-o', 'addr', 'show', 'scope', 'global']);
  const addr = / inet (\d+\.\d+\.\d+\.\d+)\//.exec(a.stdout)?.[1];
  if (!addr) throw new Error('failed to find a global IPv4 address for the node: set NSM_K8S_NODE_IP');
  return addr;
}

/** a.b.c.0/n -> a.b.c.1, the apiserver's ClusterIP in the service range. */
export function firstHost(cidr: string): string {
  const [a, b, c, d] = cidr.split('/')[0].split('.').map(Number);
  return `${a}.${b}.${c}.${d + 1}`;
}

async function nodeReady(dir: string, n: NodeState): Promise<boolean> {
  const r = await kubectl(dir, [
    'get',
    'node',
    n.name,
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}',
  ]);
  return r.code === 0 && r.stdout.trim() === 'True';
}

export interface UpOptions {
  nodes?: number;
}

export async function up(dirArg: string, opts: UpOptions = {}): Promise<ClusterState> {
  if (process.getuid?.() !== 0) throw new Error('failed to start the cluster: must run as root');
  const t0 = Date.now();
  const dir = path.resolve(dirArg);
  if (dir.length > MAX_DIR_LENGTH)
    throw new Error(`cluster dir too long for unix sockets (> ${MAX_DIR_LENGTH}): ${dir}`);
  const nodes = opts.nodes ?? NODES;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) throw new Error(`nodes must be 1..9, not ${nodes}`);
  const old = readState(dir);
  if (old && runningPids(old).length > 0) {
    throw new Error(`${dir} already holds a running cluster (npm run cluster -- down)`);
  }
  if (old) await down(dir, { keepDir: false });
  if (missingBinaries().length > 0) await build();
  await ensureHostDeps();
  const created = [...NODE_HOST_PATHS, path.dirname(dir)].filter((p) => !fs.existsSync(p));
  for (const d of ['run', 'logs', 'etcd']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.chmodSync(path.join(dir, 'etcd'), 0o700);
  const id = crypto.createHash('sha256').update(dir).digest('hex').slice(0, 6);
  const ports = await freePorts(3 + 3 * nodes);
  const hostIp = await defaultNodeIp();
  // Everything `down` must undo is recorded before it is changed.
  const s: ClusterState = {
    dir,
    k8sVersion: K8S_VERSION,
    serviceCidr: SERVICE_CIDR,
    clusterCidr: CLUSTER_CIDR,
    ports: { etcd: ports[0], etcdPeer: ports[1], apiserver: ports[2] },
    sysctls: readSysctls(),
    iptablesChains: await snapshotIptables(),
    createdPaths: created,
    pids: {},
    nodes: Array.from({ length: nodes }, (_, i) => {
      const [kubelet, proxyHealthz, proxyMetrics] = ports.slice(3 + 3 * i);
      return planNode(dir, {
        index: i + 1,
        id,
        hostName: hostName(),
        hostIp,
        ports: { kubelet, proxyHealthz, proxyMetrics },
      });
    }),
  };
  writeState(s);
  try {
    await startControlPlane(s);
    for (const n of s.nodes) await startNode(s, n);
    const t = Date.now();
    for (const n of s.nodes)
      await waitFor(`node ${n.name} Ready`, NODE_READY_TIMEOUT_MS, () => nodeReady(dir, n), 500);
    await waitFor('the default ServiceAccount', 60_000, async () => {
      return (await kubectl(dir, ['-n', 'default', 'get', 'serviceaccount', 'default'])).code === 0;
    });
    log(
      `kubelets started, ${nodes > 1 ? 'nodes' : 'node'} Ready in ${((Date.now() - t) / 1000).toFixed(1)}s`,
    );
  } catch (err) {
    log(`up failed: ${(err as Error).message}; tearing down (logs kept in ${dir}/logs)`);
    await down(dir, { keepDir: true });
    throw err;
  }
  const names = s.nodes.map((n) => `${n.name} (${n.ip})`).join(', ');
  log(`cluster ${K8S_VERSION} up in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${names}`);
  log(`KUBECONFIG=${dir}/kubeconfig; stop with: npm run cluster -- down`);
  return s;
}

async function startControlPlane(s: ClusterState): Promise<void> {
  const { dir } = s;
  const ips = [...s.nodes.map((n) => n.hostIp ?? n.ip), firstHost(s.serviceCidr)];
  const pki = await generatePki({ dir, nodeNames: s.nodes.map((n) => n.name), ips });
  const local = `https://127.0.0.1:${s.ports.apiserver}`;
  writeKubeconfig(dir, 'admin', local);
  const daemon = (
    name: 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler',
    args: string[],
  ) => startDaemon({ state: s, pids: s.pids, name, logName: name, cmd: binPath(name), args });
  const t = Date.now();
  const etcdUrl = `http://127.0.0.1:${s.ports.etcd}`;
  const peerUrl = `http://127.0.0.1:${s.ports.etcdPeer}`;
  daemon('etcd', [
    '--name=nsm-cluster',
    `--data-dir=${dir}/etcd`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=nsm-cluster=${peerUrl}`,
    // the cluster's data is thrown away on down: no need to pay for fsync on a loaded machine
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ]);
  await waitFor('etcd /health', 30_000, async () => {
    const r = await fetch(`${etcdUrl}/health`);
    return ((await r.json()) as { health?: string }).health === 'true';
  });
  daemon('kube-apiserver', [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=0.0.0.0',
    `--secure-port=${s.ports.apiserver}`,
    `--advertise-address=${s.nodes[0].ip}`,
    `--cert-dir=${pki}`,
    `--tls-cert-file=${pki}/apiserver.crt`,
    `--tls-private-key-file=${pki}/apiserver.key`,
    `--client-ca-file=${pki}/ca.crt`,
    `--token-auth-file=${pki}/tokens.csv`,
    '--authorization-mode=Node,RBAC',
    '--allow-privileged=true',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki}/sa.pub`,
    `--service-account-signing-key-file=${pki}/sa.key`,
    `--service-cluster-ip-range=${s.serviceCidr}`,
    `--kubelet-client-certificate=${pki}/kubelet-client.crt`,
    `--kubelet-client-key=${pki}/kubelet-client.key`,
    '--kubelet-preferred-address-types=InternalIP,Hostname',
    // webhooks served by pods are called on the endpoint IPs, without kube-proxy in the apiserver's path
    '--enable-aggregator-routing=true',
    '--profiling=false',
  ]);
  await waitFor('kube-apiserver /readyz', APISERVER_TIMEOUT_MS, async () => {
    return (await kubectl(dir, ['get', '--raw=/readyz'])).code === 0;
  });
  log(`etcd + kube-apiserver ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  writeKubeconfig(dir, 'controller-manager', local);
  writeKubeconfig(dir, 'scheduler', local);
  daemon('kube-controller-manager', [
    `--kubeconfig=${dir}/run/controller-manager.kubeconfig`,
    '--leader-elect=false',
    '--secure-port=0',
    `--root-ca-file=${pki}/ca.crt`,
    `--service-account-private-key-file=${pki}/sa.key`,
    `--cluster-signing-cert-file=${pki}/ca.crt`,
    `--cluster-signing-key-file=${pki}/ca.key`,
    `--service-cluster-ip-range=${s.serviceCidr}`,
    `--cluster-cidr=${s.clusterCidr}`,
    // each node's pod range is fixed by its CNI config, not allocated
    '--allocate-node-cidrs=false',
    '--use-service-account-credentials=false',
    '--cluster-name=nsm-cluster',
    '--profiling=false',
  ]);
  daemon('kube-scheduler', [
    `--kubeconfig=${dir}/run/scheduler.kubeconfig`,
    '--leader-elect=false',
    '--secure-port=0',
    '--profiling=false',
  ]);
}

async function startNode(s: ClusterState, n: NodeState): Promise<void> {
  const t = Date.now();
  await createNodeNetwork(n);
  await startContainerd(s, n);
  await importImage(n.dir, await ensurePauseImage());
  await startKubelet(s, n);
  log(
    `node ${n.name}: network, containerd, pause image, kubelet started in ${((Date.now() - t) / 1000).toFixed(1)}s`,
  );
}
