// End-to-end: a vL3 network of two replicas (one per node) sharing 172.16.0.0/16 through vl3-ipam,
// with members on both nodes: every member reaches every other by address, each member's address lies
// in its replica's slice, and the replicas hold distinct slices.
import assert from 'node:assert/strict';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { eventually } from '../../sdk/testing/eventually.js';
import type { Daemon } from '../../sdk/tools/sandbox/daemon.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses, sh } from '../../sdk/tools/sandbox/shell.js';
import { hostIP, resetPool } from './helpers.js';

const SERVICE = 'my-vl3';
const PORT = 7300;
/** Members per node (issue 12's scale run: NSM_TEST_VL3_MEMBERS_PER_NODE=25). */
const PER_NODE = Number(process.env.NSM_TEST_VL3_MEMBERS_PER_NODE ?? 2);
/** At most this many ordered pairs are probed (all of them when there are fewer). */
const MAX_PAIRS = 240;

describe('vL3 network (e2e)', function () {
  this.timeout(120_000 + PER_NODE * 2 * 15_000); // joining and probing grow with the members
  let sb: Sandbox;
  const members: { pod: Pod; conn: Connection; echo?: Daemon }[] = [];
  const replicas = new Map<string, Daemon>();

  before(async () => {
    sb = await Sandbox.create({ nodes: 2, logDir: process.env.NSM_TEST_LOG_DIR });
    const node1 = sb.node('node1');
    await sb.startVl3Ipam(node1, { NSM_PREFIX: '172.16.0.0/16', NSM_SLICE_PREFIX_LENGTH: '24' });
    for (const node of [sb.node('node1'), sb.node('node2')]) {
      const pod = await sb.addPod(node, `vl3-${node.name}`);
      replicas.set(
        pod.name,
        await sb.startVl3(pod, {
          NSM_SERVICE_NAMES: SERVICE,
          NSM_PREFIX_SERVER_URL: sb.vl3IpamURL(node1),
          NSM_VL3_PREFIX: '172.16.0.0/16',
        }),
      );
    }
    for (const node of [sb.node('node1'), sb.node('node2')]) {
      for (let i = 1; i <= PER_NODE; i++) {
        const pod = await sb.addPod(node, `m${i}-${node.name}`);
        const { connections } = await sb.startClient(
          pod,
          `kernel://${SERVICE}/nsm-1?dnsName=m${i}-${node.name}`,
        );
        members.push({ pod, conn: connections[0] });
      }
    }
  });

  after(async () => {
    for (const m of members) await m.echo?.stop();
    resetPool();
    await sb?.close();
  });

  it('gives every member an address in its replica slice and a route to the whole prefix', () => {
    const addrs = members.map((m) => m.conn.context!.ipContext!.srcIpAddrs[0]);
    assert.equal(new Set(addrs).size, addrs.length, `distinct: ${addrs.join(', ')}`);
    for (const m of members) {
      const ip = m.conn.context!.ipContext!;
      assert.match(ip.srcIpAddrs[0], /^172\.16\.\d+\.\d+\/32$/);
      assert.deepEqual(
        ip.srcRoutes.map((r) => r.prefix),
        ['172.16.0.0/16'],
      );
      const replica = hostIP(ip.dstIpAddrs[0]);
      assert.equal(
        replica.split('.').slice(0, 3).join('.'),
        hostIP(ip.srcIpAddrs[0]).split('.').slice(0, 3).join('.'),
      );
      assert.equal(m.conn.context?.dnsContext?.configs[0]?.dnsServerIps[0], replica);
    }
  });

  it(`lets every member reach every other member by address, across replicas and nodes (up to ${MAX_PAIRS} pairs)`, async () => {
    for (const m of members) {
      m.echo = await sb.echoServer(m.pod.netns, hostIP(m.conn.context!.ipContext!.srcIpAddrs[0]), PORT);
    }
    const failures: string[] = [];
    const pairs = members.flatMap((from) =>
      members.filter((to) => to !== from).map((to) => [from, to] as const),
    );
    // A deterministic spread over all ordered pairs, so both directions are sampled.
    const step = Math.max(1, Math.ceil(pairs.length / MAX_PAIRS));
    for (const [from, to] of pairs.filter((_, i) => i % step === 0)) {
      const ip = hostIP(to.conn.context!.ipContext!.srcIpAddrs[0]);
      const msg = `${from.pod.name}->${to.pod.name}`;
      const got = (
        await sb.probe(from.pod.netns, ['udp', ip, String(PORT), msg]).catch((e: Error) => e.message)
      ).trim();
      if (got !== msg) failures.push(`${msg} (${ip}): ${got}`);
    }
    assert.deepEqual(failures, []);
  });

  it('resolves every member by name, full (<dnsName>.my-vl3) and short (search domain), from every member', async () => {
    const names = members.map((m) => m.pod.name);
    const byName = new Map(
      members.map((m) => [m.pod.name, hostIP(m.conn.context!.ipContext!.srcIpAddrs[0])]),
    );
    const script = `const dns = require('node:dns').promises;
      Promise.all(${JSON.stringify(names)}.flatMap((n) => [n + '.${SERVICE}', n].map((q) =>
        dns.lookup(q, { family: 4 }).then((r) => q + ' ' + r.address, (e) => q + ' ' + e.code))))
        .then((l) => console.log(l.join('\\n')));`;
    for (const from of members) {
      const out = await sh('ip', ['netns', 'exec', from.pod.netns, process.execPath, '-e', script]);
      const got = new Map(
        out
          .trim()
          .split('\n')
          .map((l) => l.split(' ') as [string, string]),
      );
      for (const n of names) {
        assert.equal(got.get(`${n}.${SERVICE}`), byName.get(n), `${from.pod.name} resolves ${n}.${SERVICE}`);
        assert.equal(got.get(n), byName.get(n), `${from.pod.name} resolves ${n} through the search domain`);
      }
    }
  });

  it('heals the members of a killed replica to the other one, where they reach the rest again', async () => {
    const count = (name: string) => members.filter((m) => m.conn.networkServiceEndpointName === name).length;
    const victim = [...replicas.keys()].sort((a, b) => count(b) - count(a))[0];
    const survivor = [...replicas.keys()].find((r) => r !== victim)!;
    const moved = members.filter((m) => m.conn.networkServiceEndpointName === victim);
    const stayed = members.filter((m) => m.conn.networkServiceEndpointName !== victim);
    replicas.get(victim)!.kill('SIGKILL');
    // The members on the surviving replica (if any) never depend on the dead one.
    for (const a of stayed)
      for (const b of stayed)
        if (a !== b) {
          const ip = hostIP(b.conn.context!.ipContext!.srcIpAddrs[0]);
          assert.equal((await sb.probe(a.pod.netns, ['udp', ip, String(PORT), 'x'])).trim(), 'x');
        }
    const survivorSlice = members.find((m) => m.conn.networkServiceEndpointName === survivor)?.conn.context
      ?.ipContext?.dstIpAddrs[0];
    await eventually(async () => {
      for (const m of moved) {
        const [addr] = await addresses(m.pod.netns, 'nsm-1');
        assert.ok(
          addr && addr !== m.conn.context!.ipContext!.srcIpAddrs[0],
          `${m.pod.name} has a new address (${addr})`,
        );
        if (survivorSlice)
          assert.equal(addr.split('.').slice(0, 3).join('.'), survivorSlice.split('.').slice(0, 3).join('.'));
      }
    }, 60_000);
    // A healed member reaches another member again (new addresses need new echo servers).
    const [a, b] = moved.length >= 2 ? moved : [moved[0], stayed[0]];
    if (a && b) {
      const [ipB] = await addresses(b.pod.netns, 'nsm-1');
      const echo = await sb.echoServer(b.pod.netns, hostIP(ipB), PORT + 1);
      try {
        assert.equal(
          (await sb.probe(a.pod.netns, ['udp', hostIP(ipB), String(PORT + 1), 'healed'])).trim(),
          'healed',
        );
      } finally {
        await echo.stop();
      }
    }
  });
});
