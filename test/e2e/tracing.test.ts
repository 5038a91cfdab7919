// Tracing end to end: a real mesh exports spans over OTLP to a real collector (Jaeger, see jaeger.ts),
// and one trace holds a remote connection's whole path, each hop's span the child of the one before:
// nsc → nsmgr-node1 → forwarder-node1 → nsmgr-node2 → forwarder-node2 → endpoint, with the forwarders'
// kernel operations as child spans.
import assert from 'node:assert/strict';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { resetPool } from './helpers.js';
import { type Collector, ensureJaeger, OTLP_ENDPOINT, startCollector } from './jaeger.js';

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
  processID: string;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

const PATH = ['nsc-t', 'nsmgr-node1', 'forwarder-node1', 'nsmgr-node2', 'forwarder-node2', 'nse-t'];
const POLL_MS = 500;
const FIND_TIMEOUT_MS = 30_000;

const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;
const parentOf = (s: JaegerSpan) => s.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

/** The hop spans of the first Request of the connection, in path order, when this trace holds them all. */
function requestPath(t: JaegerTrace): JaegerSpan[] | undefined {
  const spans: JaegerSpan[] = [];
  let parent: string | undefined;
  for (const hop of PATH) {
    const s = t.spans.find(
      (x) =>
        x.operationName === 'NetworkService/Request' &&
        tag(x, 'nsm.hop') === hop &&
        (parent === undefined || parentOf(x) === parent),
    );
    if (!s) return undefined;
    spans.push(s);
    parent = s.spanID;
  }
  return spans;
}

describe('tracing (e2e)', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  let collector: Collector | undefined;
  let nsePod: Pod;

  before(async function () {
    this.timeout(45 * 60_000); // the first run builds Jaeger (see jaeger.ts); later ones find it cached
    await ensureJaeger();
    sb = await Sandbox.create({
      nodes: 2,
      // export every half second, so the test need not wait for the default 5 s batches
      env: { NSM_OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_ENDPOINT, OTEL_BSP_SCHEDULE_DELAY: '500' },
    });
    collector = await startCollector(sb.id);
    for (const n of sb.nodes) await collector.attach(n.netns);
    nsePod = await sb.addPod(sb.node('node2'), 'nse-t');
    await collector.attach(nsePod.netns);
    await sb.startEndpoint(nsePod, { NSM_SERVICE_NAMES: 'icmp', NSM_CIDR_PREFIX: '172.16.6.0/24' });
  });

  after(async () => {
    resetPool();
    await sb?.close();
    await collector?.close();
  });

  it('collects one trace spanning client → nsmgr → forwarder → nsmgr → forwarder → endpoint', async () => {
    const pod = await sb.addPod(sb.node('node1'), 'nsc-t');
    await collector!.attach(pod.netns);
    const { connections } = await sb.startClient(pod, 'kernel://icmp/nsm-1');
    const connId = connections[0].id;

    let found: { trace: JaegerTrace; path: JaegerSpan[] } | undefined;
    const deadline = Date.now() + FIND_TIMEOUT_MS;
    while (!found && Date.now() < deadline) {
      const { data } = await collector!.query<{ data: JaegerTrace[] }>('/api/traces?service=nsc&limit=100');
      for (const t of data) {
        const path = requestPath(t);
        if (path) found = { trace: t, path };
      }
      if (!found) await new Promise((r) => setTimeout(r, POLL_MS));
    }
    assert.ok(found, `no trace with the whole path ${PATH.join(' → ')} within ${FIND_TIMEOUT_MS} ms`);
    const { trace, path } = found;

    // Each hop reported from its own process.
    const services = path.map((s) => trace.processes[s.processID].serviceName);
    assert.deepEqual(services, ['nsc', 'nsmgr', 'forwarder', 'nsmgr', 'forwarder', 'icmp-responder']);
    // The hops agree on the connection: the client's id is the one it printed.
    assert.equal(tag(path[0], 'nsm.connection.id'), connId);
    assert.equal(tag(path[5], 'nsm.network_service'), 'icmp');
    // Kernel work is under the forwarder that did it: the nearest hop span above each kernel span.
    const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
    const nearestHop = (s: JaegerSpan): string | undefined => {
      for (let p = byId.get(parentOf(s) ?? ''); p; p = byId.get(parentOf(p) ?? '')) {
        if (tag(p, 'nsm.hop') !== undefined) return p.spanID;
      }
      return undefined;
    };
    for (const fwd of [path[2], path[4]]) {
      const kernel = trace.spans.filter(
        (s) => s.operationName.startsWith('kernel ') && nearestHop(s) === fwd.spanID,
      );
      assert.ok(kernel.length > 0, `${tag(fwd, 'nsm.hop')} has no kernel spans`);
    }
  });
});
