// Metrics end to end: every daemon of a real sandbox mesh serves Prometheus metrics
// (NSM_METRICS_LISTEN_ON), scraped over HTTP while a real client connects through two nodes and leaves.
import assert from 'node:assert/strict';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { type Daemon, type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { resetPool } from './helpers.js';
import { type Sample, scrape, total } from './scrape.js';

describe('metrics (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let nsePod: Pod;
  let nse: Daemon;

  before(async () => {
    // port 0: registry, nsmgr and forwarder share node1's namespace
    sb = await Sandbox.create({ nodes: 2, env: { NSM_METRICS_LISTEN_ON: '127.0.0.1:0' } });
    nsePod = await sb.addPod(sb.node('node2'), 'nse-m');
    nse = await sb.startEndpoint(nsePod, { NSM_SERVICE_NAMES: 'icmp', NSM_CIDR_PREFIX: '172.16.5.0/24' });
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  const nsmgr1 = () => scrape(sb.node('node1').netns, sb.node('node1').nsmgr!);

  it('counts a real remote connection on every hop, its kernel work, and its close', async () => {
    const before = await nsmgr1();
    const setup = { hop: 'nsmgr-node1', service: 'icmp', kind: 'setup', code: 'OK' };
    assert.equal(total(before, 'nsm_requests_total', setup), 0);

    const pod = await sb.addPod(sb.node('node1'), 'nsc-m');
    const { daemon: nsc, connections } = await sb.startClient(pod, 'kernel://icmp/nsm-1');
    const conn: Connection = connections[0];

    let after: Sample[] = await nsmgr1();
    assert.equal(total(after, 'nsm_requests_total', setup), 1);
    assert.equal(total(after, 'nsm_connections', { hop: 'nsmgr-node1', service: 'icmp' }), 1);
    assert.equal(
      total(after, 'nsm_request_duration_seconds_count', { hop: 'nsmgr-node1', kind: 'setup' }),
      1,
    );
    assert.ok(total(after, 'nsm_request_duration_seconds_sum', { hop: 'nsmgr-node1', kind: 'setup' }) > 0);
    assert.ok(total(after, 'process_cpu_user_seconds_total') > 0, 'default process metrics');

    // The forwarders did kernel work for it, timed per operation.
    for (const node of ['node1', 'node2']) {
      const n = sb.node(node);
      const f = await scrape(n.netns, n.forwarder!);
      assert.equal(total(f, 'nsm_connections', { hop: `forwarder-${node}` }), 1, node);
      assert.ok(total(f, 'nsm_kernel_operation_duration_seconds_count') > 0, `${node} kernel operations`);
    }
    // The endpoint counts its side too.
    const e = await scrape(nsePod.netns, nse);
    assert.equal(total(e, 'nsm_requests_total', { hop: 'nse-m', kind: 'setup', code: 'OK' }), 1);
    // The registry holds both forwarders and the endpoint.
    const r = await scrape(sb.node('node1').netns, sb.registry!);
    assert.ok(total(r, 'nsm_registry_entries', { registry: 'nse' }) >= 3);
    assert.ok(
      total(r, 'nsm_registry_operations_total', { registry: 'nse', op: 'register', code: 'OK' }) >= 3,
    );

    // Per-connection interface counters on the forwarders' path segments, with upstream's keys.
    const segs = conn.path!.pathSegments;
    const fwd1 = segs.find((s) => s.name === 'forwarder-node1')!;
    const fwd2 = segs.find((s) => s.name === 'forwarder-node2')!;
    for (const k of ['rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets', 'drops']) {
      assert.match(fwd1.metrics[`server_${k}`] ?? '', /^\d+$/, `forwarder-node1 server_${k}`);
      assert.match(fwd2.metrics[`client_${k}`] ?? '', /^\d+$/, `forwarder-node2 client_${k}`);
    }

    await nsc.stop(); // the client closes its connection on SIGTERM
    after = await nsmgr1();
    assert.equal(total(after, 'nsm_connections', { hop: 'nsmgr-node1', service: 'icmp' }), 0);
    assert.equal(total(after, 'nsm_closes_total', { hop: 'nsmgr-node1', service: 'icmp', code: 'OK' }), 1);
  });
});
