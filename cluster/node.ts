// A node: containerd, kube-proxy and kubelet, in the host's network namespace (node 1) or in a network
// namespace of its own (nodes 2..), so that traffic between nodes crosses a real link (the remote VXLAN path
// of the forwarder). A namespaced node is wired like this:
//
//   host netns                                    node-N netns (/run/netns/nsmk-<id>-N)
//   nsmkv<N>-<id> 172.30.N.1/24  <-- veth -->     eth0 172.30.N.2/24, default via 172.30.N.1
//   route 10.244.(N-1).0/24 via 172.30.N.2         bridge nsmk-<id> 10.244.(N-1).1/24 -- pods
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binPath } from './build.js';
import { ctr } from './clients.js';
import { CLUSTER_CIDR, NODE_NET_PREFIX } from './config.js';
import { cniConfig, containerdConfig, kubeletConfig, kubeProxyConfig } from './configs.js';
import { run, waitFor, which } from './exec.js';
import { cniBinDir, makeCgroupRoot } from './host.js';
import { writeKubeconfig } from './pki.js';
import { type ClusterState, type NodeState, startDaemon } from './state.js';

export interface NodePlan {
  index: number;
  id: string;
  hostName: string;
  hostIp: string;
  ports: NodeState['ports'];
}

/** The /24 number `index - 1` of the cluster range. */
export function nodePodCidr(clusterCidr: string, index: number): string {
  const [a, b] = clusterCidr.split('/')[0].split('.');
  return `${a}.${b}.${index - 1}.0/24`;
}

export function planNode(dir: string, p: NodePlan): NodeState {
  const namespaced = p.index > 1;
  return {
    index: p.index,
    name: namespaced ? `${p.hostName}-${p.index}` : p.hostName,
    ip: namespaced ? `${NODE_NET_PREFIX}.${p.index}.2` : p.hostIp,
    dir: path.join(dir, `node-${p.index}`),
    podCidr: nodePodCidr(CLUSTER_CIDR, p.index),
    bridge: `nsmk-${p.id}`,
    cgroupRoot: `nsm-cluster-${p.id}-${p.index}`,
    ...(namespaced
      ? {
          netns: `nsmk-${p.id}-${p.index}`,
          hostVeth: `nsmkv${p.index}-${p.id}`,
          hostIp: `${NODE_NET_PREFIX}.${p.index}.1`,
        }
      : {}),
    ports: p.ports,
    pids: {},
  };
}

async function ip(args: string[], netns?: string): Promise<void> {
  await run('ip', netns ? ['-n', netns, ...args] : args);
}

/** The namespace, veth, addresses and routes of a namespaced node (recorded in the state before). */
export async function createNodeNetwork(n: NodeState): Promise<void> {
  if (!n.netns || !n.hostVeth || !n.hostIp) return;
  await ip(['netns', 'add', n.netns]);
  await ip(['link', 'add', n.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.netns]);
  await ip(['addr', 'add', `${n.hostIp}/24`, 'dev', n.hostVeth]);
  await ip(['link', 'set', n.hostVeth, 'up']);
  await ip(['link', 'set', 'lo', 'up'], n.netns);
  await ip(['addr', 'add', `${n.ip}/24`, 'dev', 'eth0'], n.netns);
  await ip(['link', 'set', 'eth0', 'up'], n.netns);
  await ip(['route', 'add', 'default', 'via', n.hostIp], n.netns);
  await ip(['route', 'add', n.podCidr, 'via', n.ip]);
  // pods of this node reach other nodes' pods through the host; the host forwards between nodes
  await run('nsenter', [`--net=/run/netns/${n.netns}`, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
}

/** Deleting the namespace deletes the veth (and with it the host route), the bridge and its iptables. */
export async function removeNodeNetwork(n: NodeState): Promise<void> {
  if (n.netns) await run('ip', ['netns', 'delete', n.netns], { allowFail: true });
  if (n.hostVeth) await run('ip', ['link', 'delete', n.hostVeth], { allowFail: true });
  if (!n.netns && (await run('ip', ['link', 'show', n.bridge], { allowFail: true })).code === 0) {
    await run('ip', ['link', 'delete', n.bridge], { allowFail: true });
  }
}

/** The apiserver as this node sees it: loopback from the host, the host's veth address from a namespace. */
export function apiserverUrl(s: ClusterState, n: NodeState): string {
  return `https://${n.hostIp ?? '127.0.0.1'}:${s.ports.apiserver}`;
}

export async function startContainerd(s: ClusterState, n: NodeState): Promise<void> {
  for (const d of ['containerd', 'cni/net.d', 'cni/ipam', 'kubelet', 'manifests', 'pod-logs']) {
    fs.mkdirSync(path.join(n.dir, d), { recursive: true });
  }
  const config = path.join(n.dir, 'containerd', 'config.toml');
  fs.writeFileSync(config, containerdConfig(n, cniBinDir()!, (await which('runc'))!));
  fs.writeFileSync(path.join(n.dir, 'cni', 'net.d', '10-nsm-cluster.conflist'), cniConfig(n));
  startDaemon({
    state: s,
    pids: n.pids,
    name: 'containerd',
    logName: `containerd-${n.name}`,
    cmd: 'containerd',
    args: ['--config', config],
    netns: n.netns,
  });
  await waitFor(`containerd of ${n.name}`, 30_000, async () => (await ctr(n.dir, ['version'])).code === 0);
}

/** kube-proxy (unless NSM_K8S_KUBE_PROXY=0: then no ClusterIP Services) and the kubelet. */
export async function startKubelet(s: ClusterState, n: NodeState): Promise<void> {
  const server = apiserverUrl(s, n);
  if (process.env.NSM_K8S_KUBE_PROXY !== '0') {
    writeKubeconfig(s.dir, 'kube-proxy', server, `kube-proxy-${n.name}`);
    const config = path.join(s.dir, 'run', `kube-proxy-${n.name}.yaml`);
    fs.writeFileSync(config, kubeProxyConfig(s, n));
    startDaemon({
      state: s,
      pids: n.pids,
      name: 'kube-proxy',
      logName: `kube-proxy-${n.name}`,
      cmd: binPath('kube-proxy'),
      args: [`--config=${config}`],
      netns: n.netns,
    });
  }
  makeCgroupRoot(n.cgroupRoot);
  const kubeconfig = writeKubeconfig(s.dir, `kubelet-${n.name}`, server);
  const config = path.join(s.dir, 'run', `kubelet-${n.name}.yaml`);
  fs.writeFileSync(config, kubeletConfig(s, n));
  startDaemon({
    state: s,
    pids: n.pids,
    name: 'kubelet',
    logName: `kubelet-${n.name}`,
    cmd: binPath('kubelet'),
    args: [
      `--config=${config}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${n.dir}/kubelet`,
      `--cert-dir=${n.dir}/kubelet/pki`,
      `--hostname-override=${n.name}`,
      `--node-ip=${n.ip}`,
    ],
    netns: n.netns,
  });
}
