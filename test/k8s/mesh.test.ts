// The mesh from deploy/ on a real two-node cluster: the webhook injects the client into annotated pods
// (or pods of annotated namespaces), which get nsm-1 before their app starts, with traffic both ways to
// the endpoint pod on the same node (veth) and on the other node (VXLAN across the nodes' link); a bad
// annotation is refused naming the NSURL; a deleted pod leaves nothing on the endpoint side.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { readState } from '../../cluster/state.js';
import { k8sTestsEnabled, startTestCluster, type TestCluster } from './cluster.js';
import {
  ANNOTATION,
  clientPod,
  connectionOf,
  createNamespace,
  deployEndpoint,
  deployMesh,
  echoScript,
  endpointAddresses,
  execNode,
  OVERLAY,
  probeScript,
  waitFor,
} from './mesh.js';

describe('the mesh on a real cluster (deploy/overlays)', () => {
  let c: TestCluster;
  let nodes: string[];
  let endpoint: string;
  const id = randomBytes(3).toString('hex');
  const ns = `nsm-mesh-${id}`;
  const annotatedNs = `nsm-mesh-ns-${id}`;
  const SERVICE = `icmp-responder-${id}`;

  before(async function () {
    if (!k8sTestsEnabled()) this.skip();
    c = await startTestCluster();
    nodes = (readState(c.dir)?.nodes ?? []).map((n) => n.name);
    await deployMesh(c);
    await createNamespace(c, ns);
    endpoint = await deployEndpoint(c, ns, nodes[0], SERVICE);
  });
  after(async () => {
    if (!c) return;
    for (const n of [ns, annotatedNs]) await c.kTry(['delete', 'namespace', n, '--wait=false']);
  });

  async function startClient(name: string, node: string, annotation?: string, namespace = ns) {
    await c.k(['-n', namespace, 'apply', '-f', '-'], stringify(clientPod(name, node, annotation)));
    await c.k(['-n', namespace, 'wait', '--for=condition=Ready', '--timeout=120s', `pod/${name}`]);
    return connectionOf(c, namespace, name);
  }

  async function assertTrafficBothWays(
    namespace: string,
    pod: string,
    addr: { client: string; endpoint: string },
  ) {
    // the app container started after the client had put nsm-1 in place (startup probe)
    assert.match(await c.k(['-n', namespace, 'logs', pod, '-c', 'app']), /^nsm-1 at start: true$/m);
    const link = await c.k([
      '-n',
      namespace,
      'exec',
      pod,
      '-c',
      'app',
      '--',
      'ip',
      '-4',
      '-o',
      'addr',
      'show',
      'nsm-1',
    ]);
    assert.match(link, new RegExp(`inet ${addr.client.replace(/\./g, '\\.')}/32 `));
    const out = JSON.parse(await execNode(c, namespace, pod, 'app', probeScript(addr.endpoint, 1000, 100)));
    assert.equal(out.lost, 0, `client -> endpoint: ${JSON.stringify(out)}`);
    assert.ok(out.ok >= 5, `client -> endpoint: ${JSON.stringify(out)}`);
    assert.equal((await execNode(c, ns, endpoint, 'nse', echoScript(addr.client))).trim(), 'ping');
  }

  for (const where of ['local', 'remote'] as const) {
    it(`gives an annotated pod nsm-1 with traffic both ways to the endpoint pod (${where})`, async function () {
      const node = where === 'local' ? nodes[0] : nodes[1];
      if (!node) this.skip();
      const pod = `client-${where}`;
      const addr = await startClient(pod, node, `kernel://${SERVICE}/nsm-1`);
      assert.ok((await endpointAddresses(c, ns, endpoint)).includes(addr.endpoint));
      await assertTrafficBothWays(ns, pod, addr);
      // what the webhook injected: a native sidecar among the init containers, resources set
      const { spec, metadata } = JSON.parse(await c.k(['-n', ns, 'get', 'pod', pod, '-o', 'json']));
      const sidecar = spec.initContainers.find((x: { name: string }) => x.name === 'nsm-nsc');
      assert.equal(sidecar.restartPolicy, 'Always');
      assert.ok(sidecar.resources.limits.memory);
      // the L7 meshes' exclusions, as the apiserver stored the patch (keys with "/" escaped in the pointer)
      assert.equal(metadata.annotations['traffic.sidecar.istio.io/excludeInterfaces'], 'nsm-1');
      assert.equal(metadata.annotations['traffic.sidecar.istio.io/excludeOutboundPorts'], '9');
      assert.equal(metadata.annotations['config.linkerd.io/skip-outbound-ports'], '9');
    });
  }

  it("gives pods of an annotated namespace the namespace's services", async () => {
    await createNamespace(c, annotatedNs, { [ANNOTATION]: `kernel://${SERVICE}/nsm-1` });
    const addr = await startClient('plain', nodes[0], undefined, annotatedNs);
    await assertTrafficBothWays(annotatedNs, 'plain', addr);
    // a pod without annotations of its own gets the L7 exclusions as a whole new map
    const { metadata } = JSON.parse(await c.k(['-n', annotatedNs, 'get', 'pod', 'plain', '-o', 'json']));
    assert.equal(metadata.annotations['traffic.sidecar.istio.io/excludeInterfaces'], 'nsm-1');
  });

  it('adds and removes interfaces when the annotation of a running pod is edited (hot-plug)', async () => {
    const pod = 'client-local';
    const before = await connectionOf(c, ns, pod);
    const restarts = async () =>
      JSON.parse(await c.k(['-n', ns, 'get', 'pod', pod, '-o', 'json'])).status.initContainerStatuses[0]
        .restartCount;
    const restartsBefore = await restarts();
    const edited = Date.now();
    await c.k([
      '-n',
      ns,
      'annotate',
      '--overwrite',
      'pod',
      pod,
      `${ANNOTATION}=kernel://${SERVICE}/nsm-1,kernel://${SERVICE}/nsm-2`,
    ]);
    const line = await waitFor('nsm-2 connected', async () => {
      const logs = await c.k(['-n', ns, 'logs', pod, '-c', 'nsm-nsc', '--timestamps']);
      return logs.split('\n').find((l) => l.includes('"name":"nsm-2"'));
    });
    const addMs = Date.parse(line.split(' ')[0]) - edited;
    const ip = JSON.parse(line.slice(line.indexOf(' ') + 1)).connection.context.ipContext;
    const added = { client: ip.srcIpAddrs[0].split('/')[0], endpoint: ip.dstIpAddrs[0].split('/')[0] };
    const out = JSON.parse(await execNode(c, ns, pod, 'app', probeScript(added.endpoint, 1000, 100)));
    assert.equal(out.lost, 0, JSON.stringify(out));
    assert.equal((await execNode(c, ns, endpoint, 'nse', echoScript(added.client))).trim(), 'ping');

    // an edit that does not parse is refused like a bad pod
    const bad = await c.kTry([
      '-n',
      ns,
      'annotate',
      '--overwrite',
      'pod',
      pod,
      `${ANNOTATION}=kernel://${SERVICE}:1/nsm-3`,
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(
      bad.stderr,
      new RegExp(`denied the request: .*failed to parse NSURL "kernel://${SERVICE}:1/nsm-3"`),
    );

    const removed = Date.now();
    await c.k(['-n', ns, 'annotate', '--overwrite', 'pod', pod, `${ANNOTATION}=kernel://${SERVICE}/nsm-1`]);
    await waitFor('nsm-2 removed from the endpoint', async () =>
      (await endpointAddresses(c, ns, endpoint)).includes(added.endpoint) ? undefined : true,
    );
    const removeMs = Date.now() - removed;
    const links = await c.k(['-n', ns, 'exec', pod, '-c', 'app', '--', 'ip', '-o', 'link', 'show']);
    assert.doesNotMatch(links, /nsm-2/);
    assert.match(links, /nsm-1/);
    // nsm-1 untouched, the pod not restarted
    assert.deepEqual(await connectionOf(c, ns, pod), before);
    assert.equal(await restarts(), restartsBefore);
    process.stdout.write(
      `      hot-plug: add ${addMs} ms (edit -> connection printed), remove <= ${removeMs} ms\n`,
    );
  });

  it('refuses a pod whose annotation does not parse, naming the NSURL', async () => {
    const bad = `kernel://${SERVICE}/nsm-1,kernel://${SERVICE}/a-very-long-ifname`;
    const r = await c.kTry(['-n', ns, 'apply', '-f', '-'], stringify(clientPod('bad', nodes[0], bad)));
    assert.notEqual(r.code, 0, `the pod was admitted: ${r.stdout}`);
    assert.match(
      r.stderr,
      new RegExp(
        `admission webhook ".*" denied the request: annotation networkservicemesh\\.io of the pod: failed to parse NSURL "kernel://${SERVICE}/a-very-long-ifname": interface name "a-very-long-ifname" is longer than 15 characters`,
      ),
    );
    assert.notEqual((await c.kTry(['-n', ns, 'get', 'pod', 'bad'])).code, 0);
  });

  it('shows the registry with kubectl get nse,netsvc (registry on the Kubernetes API)', async function () {
    // the in-memory registry keeps nothing in the API: nothing to show
    if (OVERLAY !== 'k8s') this.skip();
    const out = await waitFor('the endpoint in kubectl get nse', async () => {
      const o = await c.k(['-n', 'nsm-system', 'get', 'nse,netsvc']);
      return o.includes(endpoint) ? o : undefined;
    });
    assert.match(out, new RegExp(`networkservice\\.networkservicemesh\\.io/${SERVICE}\\s`));
  });

  it('removes everything of a deleted pod on the endpoint side', async () => {
    const addr = await startClient('short-lived', nodes[1] ?? nodes[0], `kernel://${SERVICE}/nsm-1`);
    assert.ok((await endpointAddresses(c, ns, endpoint)).includes(addr.endpoint));
    await c.k(['-n', ns, 'delete', 'pod', 'short-lived', '--wait=true', '--timeout=60s']);
    // the client closed its connection on SIGTERM, after the app container: its interface and
    // address are gone from the endpoint pod by the time the pod is
    await waitFor(
      `${addr.endpoint} removed from the endpoint`,
      async () => ((await endpointAddresses(c, ns, endpoint)).includes(addr.endpoint) ? undefined : true),
      5_000,
    );
    const links = await c.k(['-n', ns, 'exec', endpoint, '--', 'ip', '-o', 'link', 'show']);
    const ours = links.split('\n').filter((l) => /icmp-respo/.test(l));
    // the other tests' clients still hold theirs: one link per remaining address
    assert.equal(ours.length, (await endpointAddresses(c, ns, endpoint)).length);
  });

  // One pod at a time, as a DaemonSet rollout replaces them. (Both forwarders of a remote connection
  // restarted at once lose ~0.5 s: each side allocates the VNI anew, so neither adopts its old link.)
  it('keeps traffic flowing while the nsmgr and forwarder pods are deleted, node by node', async function () {
    if (nodes.length < 2) this.skip();
    const addr = await connectionOf(c, ns, 'client-remote');
    const before = JSON.parse(await c.k(['-n', ns, 'get', 'pod', 'client-remote', '-o', 'json']));
    for (const app of ['nsmgr', 'forwarder'])
      for (const node of nodes) {
        const pod = (
          await c.k([
            '-n',
            'nsm-system',
            'get',
            'pod',
            '-l',
            `app=${app}`,
            '--field-selector',
            `spec.nodeName=${node}`,
            '-o',
            'name',
          ])
        ).trim();
        const probe = execNode(c, ns, 'client-remote', 'app', probeScript(addr.endpoint, 8000, 50));
        await new Promise((r) => setTimeout(r, 1000));
        const deleted = Date.now();
        await c.k(['-n', 'nsm-system', 'delete', pod, '--wait=false']);
        const out = JSON.parse(await probe);
        const what = `${pod} on ${node} deleted at +${deleted - out.start} ms: ${JSON.stringify(out)}`;
        assert.equal(out.lost, 0, what);
        assert.ok(out.ok > 20, what);
        await c.k(['-n', 'nsm-system', 'rollout', 'status', '--timeout=120s', `ds/${app}`]);
      }
    // the same connection, repaired through the new pods: not re-created, the client not restarted
    const after = JSON.parse(await c.k(['-n', ns, 'get', 'pod', 'client-remote', '-o', 'json']));
    const restarts = (p: { status: { initContainerStatuses: { restartCount: number }[] } }) =>
      p.status.initContainerStatuses[0].restartCount;
    assert.equal(restarts(after), restarts(before));
    assert.deepEqual(await connectionOf(c, ns, 'client-remote'), addr);
    const out = JSON.parse(
      await execNode(c, ns, 'client-remote', 'app', probeScript(addr.endpoint, 1000, 100)),
    );
    assert.equal(out.lost, 0);
    assert.equal((await execNode(c, ns, endpoint, 'nse', echoScript(addr.client))).trim(), 'ping');
  });
});
