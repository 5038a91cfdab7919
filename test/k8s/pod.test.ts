// A real pod from the project image (built from host files, loaded into the node's containerd): node runs
// our dist/, and iproute2 sees the pod's own network namespace.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { readState } from '../../cluster/state.js';
import { k8sTestsEnabled, projectImage, startTestCluster, type TestCluster } from './cluster.js';

describe('project image on a real cluster', () => {
  let c: TestCluster;
  let image: string;
  const ns = `nsm-pod-${randomBytes(3).toString('hex')}`;
  before(async function () {
    if (!k8sTestsEnabled()) this.skip();
    c = await startTestCluster();
    image = await projectImage(c);
    await c.k(['create', 'namespace', ns]);
    // the ServiceAccount controller must have created "default" before pods can be admitted
    for (
      let i = 0;
      i < 100 && (await c.kTry(['-n', ns, 'get', 'serviceaccount', 'default'])).code !== 0;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async () => {
    if (c) await c.kTry(['delete', 'namespace', ns, '--wait=false']);
  });

  it('runs node with our dist/ and ip inside the pod network namespace', async () => {
    const script = [
      "const { execFileSync } = require('node:child_process');",
      "const fs = require('node:fs');",
      "console.log('dist', fs.existsSync('/app/dist/nsmgr/main.js'));",
      "console.log(execFileSync('ip', ['-o', 'link', 'show', 'eth0']).toString().trim());",
      "console.log(execFileSync('ip', ['-4', '-o', 'addr', 'show', 'eth0']).toString().trim());",
    ].join('\n');
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hello' },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'hello', image, imagePullPolicy: 'Never', args: ['-e', script] }],
      },
    };
    await c.k(['-n', ns, 'apply', '-f', '-'], stringify(pod));
    await c.k(['-n', ns, 'wait', '--for=jsonpath={.status.phase}=Succeeded', '--timeout=120s', 'pod/hello']);
    const logs = await c.k(['-n', ns, 'logs', 'hello']);
    assert.match(logs, /^dist true$/m);
    assert.match(logs, /^\d+: eth0@if\d+: <BROADCAST,MULTICAST,UP,LOWER_UP>/m);
    // the address the CNI bridge's host-local IPAM gave the pod, as the apiserver reports it
    const podIp = (await c.k(['-n', ns, 'get', 'pod', 'hello', '-o', 'jsonpath={.status.podIP}'])).trim();
    assert.match(logs, new RegExp(`inet ${podIp.replace(/\./g, '\\.')}/24 `));
  });

  it('reaches the API server through the kubernetes Service with its ServiceAccount token (kube-proxy)', async () => {
    // on the last node: with two nodes that is the namespaced one, whose kube-proxy has its own iptables
    const nodeName = readState(c.dir)!.nodes.at(-1)!.name;
    const script = [
      "const fs = require('node:fs');",
      "const d = '/var/run/secrets/kubernetes.io/serviceaccount/';",
      'const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = process.env;',
      "const headers = { Authorization: 'Bearer ' + fs.readFileSync(d + 'token', 'utf8') };",
      "require('node:https').get({ host, port, path: '/version', headers, ca: fs.readFileSync(d + 'ca.crt') }, (r) => {",
      "  let b = ''; r.on('data', (x) => (b += x)); r.on('end', () => console.log(host, r.statusCode, JSON.parse(b).gitVersion));",
      "}).on('error', (e) => { console.log('error', e.message); process.exitCode = 1; });",
    ].join('\n');
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'api' },
      spec: {
        nodeName,
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'api', image, imagePullPolicy: 'Never', args: ['-e', script] }],
      },
    };
    await c.k(['-n', ns, 'apply', '-f', '-'], stringify(pod));
    await c.k(['-n', ns, 'wait', '--for=jsonpath={.status.phase}=Succeeded', '--timeout=120s', 'pod/api']);
    const serviceIp = (
      await c.k(['-n', 'default', 'get', 'service', 'kubernetes', '-o', 'jsonpath={.spec.clusterIP}'])
    ).trim();
    assert.equal((await c.k(['-n', ns, 'logs', 'api'])).trim(), `${serviceIp} 200 v1.35.4`);
  });
});
