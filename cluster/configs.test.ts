import * as assert from 'node:assert/strict';
import { parse } from 'yaml';
import { cniConfig, containerdConfig, kubeletConfig } from './configs.js';
import type { ClusterState, NodeState } from './state.js';

const NODE: NodeState = {
  index: 1,
  name: 'n1',
  ip: '192.0.2.2',
  dir: '/var/lib/nsm-ts/c/node-1',
  podCidr: '10.244.0.0/24',
  bridge: 'nsmk-1',
  cgroupRoot: 'nsm-cluster-1',
  ports: { kubelet: 4, proxyHealthz: 5, proxyMetrics: 6 },
  pids: {},
};

const STATE: ClusterState = {
  dir: '/var/lib/nsm-ts/c',
  k8sVersion: 'v1.35.4',
  serviceCidr: '10.96.0.0/24',
  clusterCidr: '10.244.0.0/16',
  ports: { etcd: 1, etcdPeer: 2, apiserver: 3 },
  sysctls: {},
  iptablesChains: {},
  createdPaths: [],
  pids: {},
  nodes: [NODE],
};

describe('cluster configs', () => {
  it('runs the kubelet on cgroup v1 with cgroupfs under our own cgroup root and no oom_score_adj', () => {
    const c = parse(kubeletConfig(STATE, NODE));
    assert.equal(c.failCgroupV1, false);
    assert.equal(c.cgroupDriver, 'cgroupfs');
    assert.equal(c.cgroupRoot, '/nsm-cluster-1');
    assert.equal(c.oomScoreAdj, 0);
    assert.equal(c.containerRuntimeEndpoint, 'unix:///var/lib/nsm-ts/c/node-1/containerd/containerd.sock');
  });

  it('keeps containerd state under the cluster dir and never lowers oom_score_adj', () => {
    const c = containerdConfig(NODE, '/usr/lib/cni', '/usr/sbin/runc');
    assert.match(c, /^root = "\/var\/lib\/nsm-ts\/c\/node-1\/containerd\/root"$/m);
    assert.match(c, /^\s+restrict_oom_score_adj = true$/m);
    assert.match(c, /^\s+sandbox_image = "nsm-ts\.local\/pause:1"$/m);
  });

  it('puts pods on our bridge with IPAM state under the cluster dir', () => {
    const c = JSON.parse(cniConfig(NODE));
    assert.equal(c.plugins[0].bridge, 'nsmk-1');
    assert.equal(c.plugins[0].ipam.dataDir, '/var/lib/nsm-ts/c/node-1/cni/ipam');
    assert.deepEqual(c.plugins[0].ipam.ranges, [[{ subnet: '10.244.0.0/24' }]]);
  });
});
