import * as assert from 'node:assert/strict';
import { apiserverUrl, nodePodCidr, planNode } from './node.js';
import type { ClusterState } from './state.js';
import { firstHost } from './up.js';

const PORTS = { kubelet: 10250, proxyHealthz: 10256, proxyMetrics: 10249 };

describe('cluster nodes', () => {
  it('gives node N the /24 number N-1 of the cluster range', () => {
    assert.equal(nodePodCidr('10.244.0.0/16', 1), '10.244.0.0/24');
    assert.equal(nodePodCidr('10.244.0.0/16', 3), '10.244.2.0/24');
  });

  it('runs node 1 in the host namespace with the host address and nodes 2.. in their own', () => {
    const plan = { id: 'abc123', hostName: 'vm', hostIp: '192.0.2.2', ports: PORTS };
    const n1 = planNode('/var/lib/c', { ...plan, index: 1 });
    assert.equal(n1.name, 'vm');
    assert.equal(n1.ip, '192.0.2.2');
    assert.equal(n1.netns, undefined);
    const n2 = planNode('/var/lib/c', { ...plan, index: 2 });
    assert.equal(n2.name, 'vm-2');
    assert.equal(n2.ip, '172.30.2.2');
    assert.equal(n2.hostIp, '172.30.2.1');
    assert.equal(n2.netns, 'nsmk-abc123-2');
    assert.equal(n2.dir, '/var/lib/c/node-2');
    assert.ok(n2.hostVeth!.length <= 15, `${n2.hostVeth} is longer than IFNAMSIZ allows`);
    assert.notEqual(n1.cgroupRoot, n2.cgroupRoot);
  });

  it('points each node at the apiserver address it can reach', () => {
    const s = { ports: { apiserver: 6443 } } as ClusterState;
    const plan = { id: 'abc123', hostName: 'vm', hostIp: '192.0.2.2', ports: PORTS };
    assert.equal(apiserverUrl(s, planNode('/c', { ...plan, index: 1 })), 'https://127.0.0.1:6443');
    assert.equal(apiserverUrl(s, planNode('/c', { ...plan, index: 2 })), 'https://172.30.2.1:6443');
  });

  it('puts the apiserver at the first address of the service range', () => {
    assert.equal(firstHost('10.96.0.0/24'), '10.96.0.1');
  });
});
