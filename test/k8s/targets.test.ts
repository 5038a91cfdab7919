// Measurements against the targets of the Kubernetes integration, printed as a report:
// - pod created -> nsm-1 ready: from the injected client's container creation (containerd's CreatedAt,
//   ns precision) to the line in which it prints its connection (the kubelet's log timestamp): the time
//   the mesh adds to the pod's own start (p50 target ≤ 1 s);
// - webhook admission: AdmissionReviews of an annotated pod posted straight to the webhook pod over one
//   TLS connection (p99 target ≤ 50 ms);
// - resident memory of nsmgr, forwarder, registry, webhook and an injected client in their pods, the
//   basis of the manifests' requests and limits.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as https from 'node:https';
import { loadavg } from 'node:os';
import { stringify } from 'yaml';
import { ctr } from '../../cluster/clients.js';
import { readState } from '../../cluster/state.js';
import { k8sTestsEnabled, startTestCluster, type TestCluster } from './cluster.js';
import { clientPod, createNamespace, deployEndpoint, deployMesh, execNode } from './mesh.js';

const PODS = 8;
const REVIEWS = 300;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

/** VmRSS and VmHWM (MiB) of the node processes in the container the script runs in (also under hostPID). */
const RSS_SCRIPT = `
const fs = require('node:fs');
const mine = fs.readFileSync('/proc/self/cgroup', 'utf8');
const out = [];
for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
  try {
    if (fs.readFileSync('/proc/' + pid + '/cgroup', 'utf8') !== mine) continue;
    const cmd = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8');
    if (!cmd.includes('dist/') || cmd.includes('RSS_SCRIPT')) continue;
    const st = fs.readFileSync('/proc/' + pid + '/status', 'utf8');
    const kb = (k) => Number(new RegExp(k + ':\\\\s+(\\\\d+)').exec(st)[1]);
    out.push({ rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 });
  } catch {}
}
console.log(JSON.stringify(out));
// RSS_SCRIPT`;

describe('targets of the Kubernetes integration (report)', () => {
  let c: TestCluster;
  const id = randomBytes(3).toString('hex');
  const ns = `nsm-targets-${id}`;
  const service = `icmp-responder-${id}`;
  let nodes: { name: string; dir: string }[];
  const report: string[] = [];

  before(async function () {
    if (!k8sTestsEnabled()) this.skip();
    c = await startTestCluster();
    nodes = readState(c.dir)?.nodes ?? [];
    await deployMesh(c);
    await createNamespace(c, ns);
    await deployEndpoint(c, ns, nodes[0].name, service);
  });
  after(async () => {
    if (report.length > 0) process.stdout.write(`\n${report.join('\n')}\n\n`);
    if (c) await c.kTry(['delete', 'namespace', ns, '--wait=false']);
  });

  it('measures how long after its client container is created a new pod has nsm-1 (target p50 <= 1 s)', async () => {
    const overheads: number[] = [];
    for (let i = 0; i < PODS; i++) {
      const node = nodes[i % nodes.length];
      const name = `pod-${i}`;
      await c.k(
        ['-n', ns, 'apply', '-f', '-'],
        stringify(clientPod(name, node.name, `kernel://${service}/nsm-1`)),
      );
      await c.k(['-n', ns, 'wait', '--for=condition=Ready', '--timeout=120s', `pod/${name}`]);
      const pod = JSON.parse(await c.k(['-n', ns, 'get', 'pod', name, '-o', 'json']));
      const cid: string = pod.status.initContainerStatuses[0].containerID.replace(/^containerd:\/\//, '');
      const info = JSON.parse((await ctr(node.dir, ['containers', 'info', cid])).stdout);
      const created = Date.parse(info.CreatedAt);
      const logs = await c.k(['-n', ns, 'logs', name, '-c', 'nsm-nsc', '--timestamps']);
      const line = logs.split('\n').find((l) => l.includes(' {"connection"'));
      assert.ok(line, `no connection line in ${logs}`);
      overheads.push(Date.parse(line.split(' ')[0]) - created);
    }
    const p50 = quantile(overheads, 0.5);
    // Reported, not asserted: most of it is node starting the client (0.6-1 s alone on a loaded 2-core
    // host), which the mesh does not control; every pod must have got its interface, though.
    assert.equal(overheads.length, PODS);
    report.push(
      `pod -> nsm-1 ready (client container created -> connection printed), ${PODS} pods on ${nodes.length} nodes: ` +
        `p50 ${p50} ms, p90 ${quantile(overheads, 0.9)} ms, max ${Math.max(...overheads)} ms ` +
        `(target p50 <= 1000 ms: ${p50 <= 1000 ? 'met' : 'NOT met'}; load average ${loadavg()[0].toFixed(1)})`,
    );
  });

  it('answers admission reviews within 50 ms (p99)', async () => {
    const ip = (
      await c.k([
        '-n',
        'nsm-system',
        'get',
        'pod',
        '-l',
        'app=admission-webhook',
        '-o',
        'jsonpath={.items[0].status.podIP}',
      ])
    ).trim();
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u',
        operation: 'CREATE',
        namespace: ns,
        object: clientPod('x', nodes[0].name, `kernel://${service}/nsm-1`),
      },
    });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    const post = () =>
      new Promise<string>((resolve, reject) => {
        const req = https.request({ host: ip, port: 8443, path: '/mutate', method: 'POST', agent }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve(b));
        });
        req.on('error', reject);
        req.end(body);
      });
    const times: number[] = [];
    try {
      for (let i = 0; i < REVIEWS; i++) {
        const t = performance.now();
        const answer = JSON.parse(await post());
        times.push(performance.now() - t);
        assert.equal(answer.response.patchType, 'JSONPatch');
      }
    } finally {
      agent.destroy();
    }
    const p99 = quantile(times, 0.99);
    report.push(
      `webhook admission (${REVIEWS} reviews, one TLS connection): p50 ${quantile(times, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`,
    );
    assert.ok(p99 <= 50, `p99 ${p99} ms`);
  });

  it('reports the memory of the daemons in their pods', async () => {
    const rows: string[] = [];
    const measure = async (namespace: string, pod: string, container: string) => {
      const procs: { rss: number; hwm: number }[] = JSON.parse(
        await execNode(c, namespace, pod, container, RSS_SCRIPT),
      );
      assert.ok(procs.length > 0, `no process found in ${pod}/${container}`);
      const rss = procs.reduce((a, p) => a + p.rss, 0);
      const hwm = procs.reduce((a, p) => a + p.hwm, 0);
      rows.push(
        `  ${container.padEnd(18)} ${pod.padEnd(36)} RSS ${rss.toFixed(0)} MiB, peak ${hwm.toFixed(0)} MiB`,
      );
    };
    for (const app of ['nsmgr', 'forwarder', 'registry', 'admission-webhook']) {
      const pods = (
        await c.k([
          '-n',
          'nsm-system',
          'get',
          'pod',
          '-l',
          `app=${app}`,
          '-o',
          'jsonpath={.items[*].metadata.name}',
        ])
      )
        .trim()
        .split(/\s+/);
      for (const p of pods) await measure('nsm-system', p, app);
    }
    await measure(ns, 'pod-0', 'nsm-nsc');
    report.push(`memory with ${PODS} client pods connected:`, ...rows);
  });
});
