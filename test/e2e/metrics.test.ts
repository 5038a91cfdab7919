// Metrics end to end: every daemon of a real sandbox mesh serves Prometheus metrics
// (NSM_METRICS_LISTEN_ON), scraped over HTTP while a real client connects through two nodes and leaves.
import assert from 'node:assert/strict';
import { type Connection, MonitorScopeSelector } from '../../api/gen/networkservice/connection.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { type Daemon, type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { assertTraffic, hostIP, resetPool } from './helpers.js';
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
    // a short token lifetime: the client refreshes about every second, and refreshes carry the counters
    const { daemon: nsc, connections } = await sb.startClient(pod, 'kernel://icmp/nsm-1', {
      NSM_MAX_TOKEN_LIFETIME: '3s',
    });
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

    // Per-connection interface counters on the forwarders' path segments, with upstream's keys: not
    // on the first answer (the interfaces are new), then on every refresh, moving with the traffic.
    assert.deepEqual(conn.path!.pathSegments.find((x) => x.name === 'forwarder-node1')!.metrics, {});
    await assertTraffic(sb, pod, nsePod, hostIP(conn.context!.ipContext!.dstIpAddrs[0]), 7005);
    const sent = Date.now();
    const pool = new ClientPool();
    try {
      const segment = async (node: string) => {
        const n = sb.node(node);
        const ev = await new Promise<Connection | undefined>((resolve, reject) => {
          const stream = pool.monitor(
            `unix://${n.forwarderSocket}`,
            MonitorScopeSelector.fromPartial({}),
            (e) => {
              void stream.close();
              resolve(Object.values(e.connections).find((c) => c.id !== undefined));
            },
            reject,
          );
        });
        return ev?.path?.pathSegments.find((x) => x.name === `forwarder-${node}`)?.metrics ?? {};
      };
      let m1: Record<string, string> = {};
      let m2: Record<string, string> = {};
      // the refresh after the traffic: at most a couple of refresh periods
      while (Date.now() - sent < 10_000) {
        [m1, m2] = [await segment('node1'), await segment('node2')];
        if (Number(m1.server_rx_packets) > 0 && Number(m2.client_rx_packets) > 0) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      for (const k of ['rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets', 'drops']) {
        assert.match(m1[`server_${k}`] ?? '', /^\d+$/, `forwarder-node1 server_${k}: ${JSON.stringify(m1)}`);
        assert.match(m2[`client_${k}`] ?? '', /^\d+$/, `forwarder-node2 client_${k}: ${JSON.stringify(m2)}`);
      }
      // TCP and UDP went both ways through the client's interface and the endpoint's
      for (const [m, side] of [
        [m1, 'server'],
        [m2, 'client'],
      ] as const) {
        for (const k of ['rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes'])
          assert.ok(Number(m[`${side}_${k}`]) > 0, `${side}_${k} moved: ${JSON.stringify(m)}`);
      }
    } finally {
      await pool.close();
    }

    await nsc.stop(); // the client closes its connection on SIGTERM
    after = await nsmgr1();
    assert.equal(total(after, 'nsm_connections', { hop: 'nsmgr-node1', service: 'icmp' }), 0);
    assert.equal(total(after, 'nsm_closes_total', { hop: 'nsmgr-node1', service: 'icmp', code: 'OK' }), 1);
  });
});
