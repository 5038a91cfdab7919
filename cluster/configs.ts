// Configuration files of the node's daemons, as pure functions of the cluster state (tested without root).
import * as path from 'node:path';
import { PAUSE_IMAGE } from './config.js';
import type { ClusterState, NodeState } from './state.js';

/**
 * containerd with its own socket, root and state under DIR, so that it never meets a containerd the host
 * may run. restrict_oom_score_adj: some sandboxed VMs deny root CAP_SYS_RESOURCE, and runc then fails
 * every pod ("can't get final child's PID from pipe") when asked for an oom_score_adj below its own.
 */
export function containerdConfig(n: NodeState, cniBinDir: string, runc: string): string {
  const d = path.join(n.dir, 'containerd');
  return `version = 2
root = "${d}/root"
state = "${d}/state"
[grpc]
  address = "${d}/containerd.sock"
[ttrpc]
  address = "${d}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${d}/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "${PAUSE_IMAGE}"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    netns_mounts_under_state_dir = true
    enable_selinux = false
    disable_apparmor = true
    restrict_oom_score_adj = true
    tolerate_missing_hugetlb_controller = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = "${runc}"
          Root = "${d}/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "${cniBinDir}"
      conf_dir = "${n.dir}/cni/net.d"
      max_conf_num = 1
`;
}

/** A bridge with host-local IPAM; no masquerading (nothing leaves the host), IPAM state under DIR. */
export function cniConfig(n: NodeState): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'nsm-cluster',
      plugins: [
        {
          type: 'bridge',
          bridge: n.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: n.podCidr }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: path.join(n.dir, 'cni', 'ipam'),
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

/**
 * failCgroupV1: false, kubelet >= 1.35 refuses cgroup v1 otherwise; cgroupfs driver with our own
 * cgroupRoot so that `down` can remove every pod cgroup; oomScoreAdj 0 for hosts without CAP_SYS_RESOURCE;
 * image GC off (our images cannot be pulled back); logs and static pods under DIR.
 */
export function kubeletConfig(s: ClusterState, n: NodeState): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 0.0.0.0
port: ${n.ports.kubelet}
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: ${s.dir}/pki/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://${n.dir}/containerd/containerd.sock
imageServiceEndpoint: unix://${n.dir}/containerd/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /${n.cgroupRoot}
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failSwapOn: false
failCgroupV1: false
protectKernelDefaults: false
oomScoreAdj: 0
staticPodPath: ${n.dir}/manifests
podLogsDir: ${n.dir}/pod-logs
volumePluginDir: ${n.dir}/kubelet/volume-plugins
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
registerNode: true
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 5s
`;
}

/** iptables mode; conntrack sysctls left alone (zero values mean "do not touch"). */
export function kubeProxyConfig(s: ClusterState, n: NodeState): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${s.dir}/run/kube-proxy-${n.name}.kubeconfig
hostnameOverride: ${n.name}
bindAddress: 0.0.0.0
healthzBindAddress: 127.0.0.1:${n.ports.proxyHealthz}
metricsBindAddress: 127.0.0.1:${n.ports.proxyMetrics}
clusterCIDR: ${s.clusterCidr}
mode: iptables
iptables:
  localhostNodePorts: false
  masqueradeAll: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}
