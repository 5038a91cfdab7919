// End-to-end: the 4-hop CNF chain of issue 11 across both nodes (test/e2e/chain-helpers.ts):
// traffic the firewall allows passes both ways, what it denies is dropped and counted, every hop's
// interfaces carry the connection's addresses, a CNF killed with -9 is healed through its replica,
// bad service definitions are refused by name, and Close leaves nothing behind.
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { NetworkServiceEndpoint } from '../../api/gen/registry/registry.js';
import { background } from '../../sdk/core/context.js';
import { newNseRegistryClient } from '../../sdk/grpc/registry-client.js';
import {
  ALLOWED_PORT,
  type Chain,
  chainAlive,
  DENIED_PORT,
  firewallCounters,
  hops,
  LOOP_SERVICE,
  startChain,
  startChainClient,
} from '../../sdk/tools/sandbox/chain.js';
import { type Daemon, type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses, links, sh } from '../../sdk/tools/sandbox/shell.js';
import {
  assertTraffic,
  hostIP,
  kernelMechanism,
  newConnection,
  rejectsWith,
  request,
  resetPool,
} from './helpers.js';

async function eventually(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('CNF chain: client → firewall → passthrough-1 → passthrough-2 → responder (e2e)', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  let chain: Chain;
  let client: Pod;
  let nsc: Daemon;
  let conn: Connection;

  /** Whether the registry lists endpoint `name` (asked through node1's nsmgr, as its endpoints do). */
  const registered = async (name: string): Promise<boolean> => {
    const reg = newNseRegistryClient(`unix://${sb.node('node1').nsmgrSocket}`);
    const names: string[] = [];
    await reg.find(
      background(),
      { networkServiceEndpoint: NetworkServiceEndpoint.fromPartial({}), watch: false },
      (r) => names.push(r.networkServiceEndpoint?.name ?? ''),
    );
    return names.includes(name);
  };

  before(async () => {
    // Short token lifetimes: the part of the chain behind a killed CNF expires within the test.
    sb = await Sandbox.create({ nodes: 2, env: { NSM_MAX_TOKEN_LIFETIME: '10s' } });
    chain = await startChain(sb);
    ({ pod: client, daemon: nsc, conn } = await startChainClient(sb, 'kernel://secure/nsm-1'));
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it('passes the firewall, a passthrough-1 replica and passthrough-2 on the way, crossing nodes on every hop', () => {
    const names = hops(conn);
    assert.equal(names.length, 5, names.join(' → '));
    assert.equal(names[0], 'nsc');
    assert.equal(names[1], 'firewall');
    assert.match(names[2], /^passthrough-1b?$/);
    assert.deepEqual(names.slice(3), ['passthrough-2', 'responder']);
    const nodes = conn.path!.pathSegments.filter((s) => s.name.startsWith('nsmgr-')).map((s) => s.name);
    assert.deepEqual(nodes, [
      'nsmgr-node1',
      'nsmgr-node2',
      'nsmgr-node2',
      'nsmgr-node1',
      'nsmgr-node1',
      'nsmgr-node2',
      'nsmgr-node2',
      'nsmgr-node1',
    ]);
  });

  it('carries allowed TCP and UDP both ways', async () => {
    const ip = conn.context!.ipContext!;
    await assertTraffic(sb, client, chain.responder, hostIP(ip.dstIpAddrs[0]), ALLOWED_PORT);
    await assertTraffic(sb, chain.responder, client, hostIP(ip.srcIpAddrs[0]), ALLOWED_PORT);
  });

  it('drops denied traffic and counts it', async () => {
    const ip = conn.context!.ipContext!;
    const before = (await firewallCounters(chain.firewall)).blocked ?? 0;
    const server = await sb.echoServer(chain.responder.netns, hostIP(ip.dstIpAddrs[0]), DENIED_PORT);
    try {
      await assert.rejects(
        sb.probe(client.netns, ['tcp', hostIP(ip.dstIpAddrs[0]), String(DENIED_PORT), 'x']),
        /no reply|timed out|ETIMEDOUT/,
      );
    } finally {
      await server.stop();
    }
    const after = await firewallCounters(chain.firewall);
    assert.ok((after.blocked ?? 0) > before, `blocked counter ${before} → ${after.blocked}`);
    assert.ok((after['echo-tcp'] ?? 0) > 0, 'the allowed TCP was counted too');
  });

  it('gives every hop the connection addresses: client and responder ends, each CNF both, forwarding only in CNFs', async () => {
    const ip = conn.context!.ipContext!;
    assert.deepEqual(await addresses(client.netns, 'nsm-1'), ip.srcIpAddrs);
    const respLinks = (await links(chain.responder.netns)).filter((l) => l.ifname !== 'lo');
    assert.equal(respLinks.length, 1);
    assert.deepEqual(await addresses(chain.responder.netns, respLinks[0].ifname), ip.dstIpAddrs);
    const p1 = hops(conn)[2] === 'passthrough-1' ? chain.p1 : chain.p1b;
    for (const cnf of [chain.firewall, p1, chain.p2]) {
      const own = (await links(cnf.netns)).filter((l) => l.ifname !== 'lo');
      assert.equal(own.length, 2, `${cnf.name}: ${own.map((l) => l.ifname).join(', ')}`);
      const addrs = (await Promise.all(own.map((l) => addresses(cnf.netns, l.ifname)))).flat().sort();
      assert.deepEqual(addrs, [...ip.srcIpAddrs, ...ip.dstIpAddrs].sort(), cnf.name);
      const fwd = await sh('ip', ['netns', 'exec', cnf.netns, 'cat', '/proc/sys/net/ipv4/ip_forward']);
      assert.equal(fwd.trim(), '1', cnf.name);
    }
    const clientFwd = await sh('ip', ['netns', 'exec', client.netns, 'cat', '/proc/sys/net/ipv4/ip_forward']);
    assert.equal(clientFwd.trim(), '0', 'the client namespace does not forward');
  });

  it('keeps the chain through refreshes: after more than one token lifetime, the same interfaces carry traffic', async () => {
    const p1 = hops(conn)[2] === 'passthrough-1' ? chain.p1 : chain.p1b;
    const names = async () =>
      (await Promise.all([client, chain.firewall, p1, chain.p2, chain.responder].map((p) => links(p.netns))))
        .flat()
        .map((l) => `${l.ifname}@${l.address ?? ''} ${l.ifalias ?? ''}`)
        .sort();
    const before = await names();
    await new Promise((r) => setTimeout(r, 12_000)); // tokens last 10 s: every hop was refreshed, or expired
    assert.deepEqual(await names(), before, 'no interface was rebuilt');
    assert.ok(await chainAlive(client), 'traffic still passes');
  });

  it('refuses a service whose matches route back to a CNF on the path, naming the loop', async () => {
    await rejectsWith(
      () =>
        request(sb.node('node1'), newConnection('loop-1', LOOP_SERVICE), [
          kernelMechanism({ name: 'lp1', inodeURL: `file:///var/run/netns/${client.netns}` }),
        ]),
      status.FAILED_PRECONDITION,
      /network service "loopy" loops: the request with labels \{"app":"passthrough-1".*\} has passed .*passthrough-1b? → .*passthrough-2 → .*passthrough-1b? → nsmgr-node1 and its match routes it back to "passthrough-2"/,
    );
  });

  it('answers NOT_FOUND naming the service and the selector when a match routes to labels nobody has', async () => {
    await rejectsWith(
      () =>
        request(sb.node('node1'), newConnection('nobody-1', LOOP_SERVICE, { labels: { app: 'stranger' } }), [
          kernelMechanism({ name: 'nb1', inodeURL: `file:///var/run/netns/${client.netns}` }),
        ]),
      status.NOT_FOUND,
      /no endpoint of network service "loopy" matches the labels .*"app":"stranger".* \(selector \{"app":"nobody"\}\)/,
    );
  });

  it('heals through the passthrough-1 replica after kill -9 of the one in use, and unregisters the dead one at once', async () => {
    const used = hops(conn)[2] === 'passthrough-1' ? chain.p1 : chain.p1b;
    const other = used === chain.p1 ? chain.p1b : chain.p1;
    assert.ok(await registered(used.name), `${used.name} is registered before the kill`);
    chain.daemons.get(used.name)!.kill('SIGKILL');
    const killedAt = Date.now();
    // Healed: the chain runs through the replica (its two interfaces) and carries traffic again.
    await eventually('chain rebuilt through the replica and carrying traffic', 30_000, async () => {
      const through = (await links(other.netns)).filter((l) => l.ifname !== 'lo').length === 2;
      return through && (await chainAlive(client));
    });
    process.stdout.write(`      (traffic through the replica ${Date.now() - killedAt} ms after kill -9)\n`);
    // Its nsmgr took it out of the registry when the reselect came (unregisterdead), not when its
    // 1-minute lease ran out: a later reselect must not try the dead replica first.
    assert.ok(!(await registered(used.name)), `${used.name} is still registered after the heal`);
    const routes = await sh('ip', ['-n', client.netns, '-j', 'route', 'show', 'dev', 'nsm-1']);
    const peer = (JSON.parse(routes) as { dst: string }[])[0].dst;
    await assertTraffic(sb, client, chain.responder, peer, ALLOWED_PORT);
  });

  it('tears the whole chain down when the client closes: no link left in any pod or node', async () => {
    await nsc.stop();
    await eventually(
      'every pod and node link gone',
      30_000,
      async () => (await sb.podLinks()).length === 0 && (await sb.nodeLinks()).length === 0,
    );
  });
});
