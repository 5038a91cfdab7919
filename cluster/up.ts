// `up`: a one-node cluster whose whole state lives in one directory. Order: etcd, kube-apiserver,
// containerd (+ images), controller-manager, scheduler, kube-proxy, kubelet; Ready when the node reports
// Ready and the default ServiceAccount exists (pods can be created). On any failure everything started so
// far is torn down again, logs kept.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { binPath, build, missingBinaries } from './build.js';
import { ctr, kubectl } from './clients.js';
import { hostName, K8S_VERSION, POD_CIDR, SERVICE_CIDR } from './config.js';
import { cniConfig, containerdConfig, kubeletConfig, kubeProxyConfig } from './configs.js';
import { down } from './down.js';
import { log, run, waitFor, which } from './exec.js';
import {
  cniBinDir,
  ensureHostDeps,
  makeCgroupRoot,
  NODE_HOST_PATHS,
  readSysctls,
  snapshotIptables,
} from './host.js';
import { ensurePauseImage, importImage } from './image.js';
import { generatePki, writeKubeconfigs } from './pki.js';
import { type ClusterState, ownedPid, readState, startDaemon, writeState } from './state.js';

const NODE_READY_TIMEOUT_MS = 180_000;
const APISERVER_TIMEOUT_MS = 90_000;
/** Unix socket paths (containerd's, under DIR) must stay below 108 bytes. */
const MAX_DIR_LENGTH = 70;

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

async function nodeReady(s: ClusterState): Promise<boolean> {
  const r = await kubectl(s.dir, [
    'get',
    'node',
    s.nodeName,
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}',
  ]);
  return r.code === 0 && r.stdout.trim() === 'True';
}

export async function up(dirArg: string): Promise<ClusterState> {
  if (process.getuid?.() !== 0) throw new Error('failed to start the cluster: must run as root');
  const t0 = Date.now();
  const dir = path.resolve(dirArg);
  if (dir.length > MAX_DIR_LENGTH)
    throw new Error(`cluster dir too long for unix sockets (> ${MAX_DIR_LENGTH}): ${dir}`);
  const old = readState(dir);
  if (old && Object.keys(old.pids).some((n) => ownedPid(old, n as keyof ClusterState['pids']))) {
    throw new Error(`${dir} already holds a running cluster (npm run cluster -- down ${dir})`);
  }
  if (old) await down(dir, { keepDir: false });
  if (missingBinaries().length > 0) await build();
  await ensureHostDeps();
  for (const d of [
    'run',
    'logs',
    'etcd',
    'kubelet',
    'manifests',
    'containerd',
    'cni/net.d',
    'cni/ipam',
    'pod-logs',
  ]) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  fs.chmodSync(path.join(dir, 'etcd'), 0o700);
  const id = crypto.createHash('sha256').update(dir).digest('hex').slice(0, 8);
  const [etcd, etcdPeer, apiserver, kubelet, proxyHealthz, proxyMetrics] = await freePorts(6);
  // Everything `down` must undo is recorded before it is changed.
  const s: ClusterState = {
    dir,
    k8sVersion: K8S_VERSION,
    nodeName: hostName(),
    nodeIp: await defaultNodeIp(),
    podCidr: POD_CIDR,
    serviceCidr: SERVICE_CIDR,
    ports: { etcd, etcdPeer, apiserver, kubelet, proxyHealthz, proxyMetrics },
    bridge: process.env.NSM_K8S_BRIDGE ?? `nsmk-${id}`,
    cgroupRoot: `nsm-cluster-${id}`,
    sysctls: readSysctls(),
    iptablesChains: await snapshotIptables(),
    createdPaths: NODE_HOST_PATHS.filter((p) => !fs.existsSync(p)),
    pids: {},
  };
  writeState(s);
  try {
    await start(s);
  } catch (err) {
    log(`up failed: ${(err as Error).message}; tearing down (logs kept in ${dir}/logs)`);
    await down(dir, { keepDir: true });
    throw err;
  }
  log(
    `cluster ${K8S_VERSION} up in ${((Date.now() - t0) / 1000).toFixed(1)}s: node ${s.nodeName} (${s.nodeIp})`,
  );
  log(`KUBECONFIG=${dir}/kubeconfig; stop with: npm run cluster -- down`);
  return s;
}

async function start(s: ClusterState): Promise<void> {
  const { dir } = s;
  const pki = await generatePki({
    dir,
    nodeName: s.nodeName,
    nodeIp: s.nodeIp,
    serviceIp: firstHost(s.serviceCidr),
  });
  const server = `https://127.0.0.1:${s.ports.apiserver}`;
  writeKubeconfigs(dir, server);
  let t = Date.now();
  const etcdUrl = `http://127.0.0.1:${s.ports.etcd}`;
  const peerUrl = `http://127.0.0.1:${s.ports.etcdPeer}`;
  startDaemon(s, 'etcd', binPath('etcd'), [
    '--name=nsm-cluster',
    `--data-dir=${dir}/etcd`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=nsm-cluster=${peerUrl}`,
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ]);
  await waitFor('etcd /health', 30_000, async () => {
    const r = await fetch(`${etcdUrl}/health`);
    return ((await r.json()) as { health?: string }).health === 'true';
  });
  startDaemon(s, 'kube-apiserver', binPath('kube-apiserver'), [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=0.0.0.0',
    `--secure-port=${s.ports.apiserver}`,
    `--advertise-address=${s.nodeIp}`,
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

  t = Date.now();
  fs.writeFileSync(
    path.join(dir, 'containerd', 'config.toml'),
    containerdConfig(s, cniBinDir()!, (await which('runc'))!),
  );
  fs.writeFileSync(path.join(dir, 'cni', 'net.d', '10-nsm-cluster.conflist'), cniConfig(s));
  startDaemon(s, 'containerd', 'containerd', ['--config', path.join(dir, 'containerd', 'config.toml')]);
  await waitFor('containerd', 30_000, async () => (await ctr(dir, ['version'])).code === 0);
  await importImage(dir, await ensurePauseImage());
  log(`containerd ready, pause image imported in ${((Date.now() - t) / 1000).toFixed(1)}s`);

  startDaemon(s, 'kube-controller-manager', binPath('kube-controller-manager'), [
    `--kubeconfig=${dir}/run/controller-manager.kubeconfig`,
    '--leader-elect=false',
    '--secure-port=0',
    `--root-ca-file=${pki}/ca.crt`,
    `--service-account-private-key-file=${pki}/sa.key`,
    `--cluster-signing-cert-file=${pki}/ca.crt`,
    `--cluster-signing-key-file=${pki}/ca.key`,
    `--service-cluster-ip-range=${s.serviceCidr}`,
    `--cluster-cidr=${s.podCidr}`,
    '--allocate-node-cidrs=false',
    '--use-service-account-credentials=false',
    '--cluster-name=nsm-cluster',
    '--profiling=false',
  ]);
  startDaemon(s, 'kube-scheduler', binPath('kube-scheduler'), [
    `--kubeconfig=${dir}/run/scheduler.kubeconfig`,
    '--leader-elect=false',
    '--secure-port=0',
    '--profiling=false',
  ]);
  // ClusterIP Services (the registry, the webhook) need kube-proxy; NSM_K8S_KUBE_PROXY=0 runs without.
  if (process.env.NSM_K8S_KUBE_PROXY !== '0') {
    fs.writeFileSync(path.join(dir, 'run', 'kube-proxy.yaml'), kubeProxyConfig(s));
    startDaemon(s, 'kube-proxy', binPath('kube-proxy'), [`--config=${dir}/run/kube-proxy.yaml`]);
  }

  t = Date.now();
  makeCgroupRoot(s.cgroupRoot);
  fs.writeFileSync(path.join(dir, 'run', 'kubelet.yaml'), kubeletConfig(s));
  startDaemon(s, 'kubelet', binPath('kubelet'), [
    `--config=${dir}/run/kubelet.yaml`,
    `--kubeconfig=${dir}/run/kubelet.kubeconfig`,
    `--root-dir=${dir}/kubelet`,
    `--cert-dir=${dir}/kubelet/pki`,
    `--hostname-override=${s.nodeName}`,
    `--node-ip=${s.nodeIp}`,
  ]);
  await waitFor(`node ${s.nodeName} Ready`, NODE_READY_TIMEOUT_MS, () => nodeReady(s), 500);
  await waitFor('the default ServiceAccount', 60_000, async () => {
    return (await kubectl(dir, ['-n', 'default', 'get', 'serviceaccount', 'default'])).code === 0;
  });
  log(`kubelet started, node Ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
}
