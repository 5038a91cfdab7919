// Two nodes (the second in its own network namespace): pods on different nodes reach each other across the
// veth between the namespaces, the path remote (VXLAN) connections of the forwarder will take.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { PROJECT_IMAGE } from '../../cluster/config.js';
import { readState } from '../../cluster/state.js';
import { k8sTestsEnabled, projectImage, startTestCluster, type TestCluster } from './cluster.js';

function pod(name: string, nodeName: string, script: string, restart: 'Never' | 'Always') {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      nodeName,
      restartPolicy: restart,
      terminationGracePeriodSeconds: 1,
      containers: [{ name, image: PROJECT_IMAGE, imagePullPolicy: 'Never', args: ['-e', script] }],
    },
  };
}

describe('pods on two nodes', () => {
  let c: TestCluster;
  let nodes: { name: string; podCidr: string }[];
  const ns = `nsm-nodes-${randomBytes(3).toString('hex')}`;
  before(async function () {
    if (!k8sTestsEnabled()) this.skip();
    c = await startTestCluster();
    nodes = readState(c.dir)?.nodes ?? [];
    if (nodes.length < 2) this.skip();
    await projectImage(c);
    await c.k(['create', 'namespace', ns]);
    for (
      let i = 0;
      i < 100 && (await c.kTry(['-n', ns, 'get', 'serviceaccount', 'default'])).code !== 0;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async () => {
    if (c) await c.kTry(['-n', ns, 'delete', 'pods', '--all', '--grace-period=0', '--force']);
    if (c) await c.kTry(['delete', 'namespace', ns, '--wait=false']);
  });

  it('a pod on node 2 reaches a pod on node 1 by its pod IP', async () => {
    const server =
      "require('node:http').createServer((q, s) => s.end('hello from ' + require('node:os').hostname())).listen(8080)";
    await c.k(['-n', ns, 'apply', '-f', '-'], stringify(pod('server', nodes[0].name, server, 'Always')));
    await c.k(['-n', ns, 'wait', '--for=condition=Ready', '--timeout=120s', 'pod/server']);
    const serverIp = (await c.k(['-n', ns, 'get', 'pod', 'server', '-o', 'jsonpath={.status.podIP}'])).trim();
    assert.ok(serverIp.startsWith(nodes[0].podCidr.split('.').slice(0, 3).join('.')), serverIp);
    const client = [
      `require('node:http').get('http://${serverIp}:8080/', (r) => r.on('data', (d) => console.log(String(d))))`,
      ".on('error', (e) => { console.log('error', e.message); process.exitCode = 1; });",
    ].join('');
    await c.k(['-n', ns, 'apply', '-f', '-'], stringify(pod('client', nodes[1].name, client, 'Never')));
    await c.k(['-n', ns, 'wait', '--for=jsonpath={.status.phase}=Succeeded', '--timeout=120s', 'pod/client']);
    const clientIp = (await c.k(['-n', ns, 'get', 'pod', 'client', '-o', 'jsonpath={.status.podIP}'])).trim();
    assert.ok(clientIp.startsWith(nodes[1].podCidr.split('.').slice(0, 3).join('.')), clientIp);
    assert.equal((await c.k(['-n', ns, 'logs', 'client'])).trim(), 'hello from server');
  });
});
