// Policy routes against the real kernel (root only), IPv4 and IPv6 side by side: the kernel's own
// route decision (`ip route get` with protocol and port, through the rules) sends the flows the rules
// select by the connection's interface and has no route for the others; configuring again adds no
// rule twice; clearing removes every rule of the connection in both families. All inside throw-away
// namespaces (nsmk-*). Traffic steered by IPv4 policies end to end: test/e2e/policy-routes.test.ts.
// The second test sends real packets (IPv6 and IPv4): the destination lives in two namespaces, one
// behind the connection and one behind the pod's other interface, and each answers with its name, so
// the reply says which interface the packet left by.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { IPContext } from '../../api/gen/networkservice/connectioncontext.js';
import { contextPlan } from './connection-context.js';
import { newDataplane } from './dataplane.js';
import { newIpRunner } from './iproute2.js';
import { inPolicyRange, policyTableBase } from './policy.js';
import { isRoot, TAGGED_ECHO_SCRIPT, TestNamespaces, type TestNetns } from './testing.js';

const run = promisify(execFile);

/** The device `ip route get` picks in ns, or the error iproute2 gives ("unreachable"). */
async function routeDev(ns: TestNetns, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', ['-n', ns.name, 'route', 'get', ...args]);
    return / dev (\S+)/.exec(stdout)?.[1] ?? stdout.trim();
  } catch {
    return 'unreachable';
  }
}

async function ruleTables(ns: TestNetns, family: 4 | 6): Promise<number[]> {
  const { stdout } = await run('ip', ['-json', `-${family}`, '-n', ns.name, 'rule', 'show']);
  return (JSON.parse(stdout || '[]') as { table?: string }[])
    .map((r) => Number(r.table))
    .filter(Number.isInteger);
}

/** Sends argv[3] to argv[2]:argv[1] over argv[0] (udp|tcp); prints the answer or "no answer". */
const SEND = `
const [proto, port, dest, msg] = process.argv.slice(1);
setTimeout(() => { console.log('no answer'); process.exit(0); }, 3000);
const done = (d) => { console.log(String(d)); process.exit(0); };
if (proto === 'udp') {
  const u = require('node:dgram').createSocket(dest.includes(':') ? 'udp6' : 'udp4');
  u.on('message', done);
  u.send(msg, Number(port), dest);
} else {
  const s = require('node:net').connect(Number(port), dest, () => s.write(msg));
  s.on('data', done);
  s.on('error', (e) => done('error ' + e.code));
}
`;

describe('policy routes on the real kernel', function () {
  this.timeout(60_000);
  const spaces = new TestNamespaces();
  const dp = newDataplane({ runner: newIpRunner() });

  before(function () {
    if (!isRoot()) this.skip();
  });

  afterEach(() => spaces.cleanup());

  it('steers selected IPv4 and IPv6 traffic through the interface, and clears both families', async () => {
    const pod = await spaces.add('pol');
    const nse = await spaces.add('pole');
    const ipContext = IPContext.fromPartial({
      srcIpAddrs: ['172.16.1.101/32', 'fd00::101/128'],
      dstIpAddrs: ['172.16.1.100/32', 'fd00::100/128'],
      srcRoutes: [{ prefix: '172.16.1.100/32' }, { prefix: 'fd00::100/128' }],
      dstRoutes: [{ prefix: '172.16.1.101/32' }, { prefix: 'fd00::101/128' }],
      policies: [
        { proto: 'udp', dstPort: '5555', routes: [{ prefix: '10.77.0.0/16', nextHop: '172.16.1.100' }] },
        { proto: 'udp', dstPort: '5555', routes: [{ prefix: 'fd01::/64', nextHop: 'fd00::100' }] },
      ],
    });
    const id = `pol-${Date.now()}`;
    await dp.createVethPair(
      { netns: pod, name: 'nsm-1', alias: 'nsm:test:client' },
      { netns: nse, name: 'nse-1', alias: 'nsm:test:endpoint' },
    );
    const { policyRoutes, ...plan } = contextPlan('client', ipContext);
    const client = { ...plan, policies: { tableBase: policyTableBase(id), policies: policyRoutes ?? [] } };
    await dp.configureInterfaces([
      { netns: pod, ifname: 'nsm-1', config: client },
      { netns: nse, ifname: 'nse-1', config: contextPlan('endpoint', ipContext) },
    ]);

    // Selected (udp 5555) and not (tcp, other port) in both families.
    assert.equal(await routeDev(pod, ['10.77.0.5', 'ipproto', 'udp', 'dport', '5555']), 'nsm-1');
    assert.equal(await routeDev(pod, ['fd01::5', 'ipproto', 'udp', 'dport', '5555']), 'nsm-1');
    assert.equal(await routeDev(pod, ['10.77.0.5', 'ipproto', 'tcp', 'dport', '5555']), 'unreachable');
    assert.equal(await routeDev(pod, ['fd01::5', 'ipproto', 'udp', 'dport', '5556']), 'unreachable');

    const base = client.policies.tableBase;
    for (const family of [4, 6] as const) {
      assert.equal((await ruleTables(pod, family)).filter((t) => inPolicyRange(t, base)).length, 1);
    }
    // Configuring again (a refresh, a restarted forwarder) does not add the rules twice.
    await dp.configureInterface(pod, 'nsm-1', client);
    for (const family of [4, 6] as const) {
      assert.equal((await ruleTables(pod, family)).filter((t) => inPolicyRange(t, base)).length, 1);
    }
    await dp.clearPolicies(pod, base);
    for (const family of [4, 6] as const) {
      assert.deepEqual(
        (await ruleTables(pod, family)).filter((t) => inPolicyRange(t, base)),
        [],
        `no IPv${family} rule left`,
      );
    }
    await dp.deleteLink(pod, 'nsm-1');
  });

  for (const family of [6, 4] as const) {
    it(`sends the IPv${family} traffic a policy selects out by the connection, other traffic by the main table`, async () => {
      const v6 = family === 6;
      const a = v6
        ? {
            src: 'fd00::101',
            dst: 'fd00::100',
            net: 'fd01::/64',
            dest: 'fd01::5',
            host: 128,
            pod: 'fd02::1',
            other: 'fd02::2',
            lan: 64,
          }
        : {
            src: '172.16.1.101',
            dst: '172.16.1.100',
            net: '10.77.0.0/16',
            dest: '10.77.0.5',
            host: 32,
            pod: '10.78.0.1',
            other: '10.78.0.2',
            lan: 24,
          };
      const pod = await spaces.add('pt');
      const nse = await spaces.add('pte');
      const other = await spaces.add('pto');
      const ipContext = IPContext.fromPartial({
        srcIpAddrs: [`${a.src}/${a.host}`],
        dstIpAddrs: [`${a.dst}/${a.host}`],
        srcRoutes: [{ prefix: `${a.dst}/${a.host}` }],
        dstRoutes: [{ prefix: `${a.src}/${a.host}` }],
        policies: [{ proto: 'udp', dstPort: '5555', routes: [{ prefix: a.net, nextHop: a.dst }] }],
      });
      await dp.createVethPair(
        { netns: pod, name: 'nsm-1', alias: 'nsm:test:client' },
        { netns: nse, name: 'nse-1', alias: 'nsm:test:endpoint' },
      );
      const { policyRoutes, ...plan } = contextPlan('client', ipContext);
      const base = policyTableBase(`pt-${Date.now()}`);
      await dp.configureInterfaces([
        {
          netns: pod,
          ifname: 'nsm-1',
          config: { ...plan, policies: { tableBase: base, policies: policyRoutes ?? [] } },
        },
        { netns: nse, ifname: 'nse-1', config: contextPlan('endpoint', ipContext) },
      ]);
      // The pod's own network (the test plays its administrator): eth0 to `other`, and the main
      // table's route to the destination prefix through it. Both peers own the destination address.
      const ip = (ns: TestNetns, ...args: string[]) => run('ip', [`-${family}`, '-n', ns.name, ...args]);
      const veth = ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', other.name];
      await run('ip', ['-n', pod.name, ...veth]);
      const nodad = v6 ? ['nodad'] : [];
      await ip(pod, 'addr', 'add', `${a.pod}/${a.lan}`, 'dev', 'eth0', ...nodad);
      await ip(other, 'addr', 'add', `${a.other}/${a.lan}`, 'dev', 'eth0', ...nodad);
      await ip(pod, 'link', 'set', 'eth0', 'up');
      await ip(other, 'link', 'set', 'eth0', 'up');
      await ip(pod, 'route', 'add', a.net, 'via', a.other, 'dev', 'eth0');
      await ip(nse, 'addr', 'add', `${a.dest}/${a.host}`, 'dev', 'lo');
      await ip(other, 'addr', 'add', `${a.dest}/${a.host}`, 'dev', 'lo');

      for (const [ns, tag] of [
        [nse, 'endpoint'],
        [other, 'main'],
      ] as const) {
        const env = ['env', `ECHO_TAG=${tag}`, `ECHO_DEST=${a.dest}`, 'ECHO_PORTS=5555,5556'];
        const server = spaces.spawnIn(ns, [...env, process.execPath, '-e', TAGGED_ECHO_SCRIPT]);
        const [line] = (await once(server.stdout!, 'data')) as [Buffer];
        assert.equal(String(line).trim(), 'ready', `${tag} echo server`);
      }
      const send = async (proto: string, port: number, msg: string) => {
        const args = ['netns', 'exec', pod.name, process.execPath, '-e', SEND];
        args.push(proto, String(port), a.dest, msg);
        return (await run('ip', args, { timeout: 10_000 })).stdout.trim();
      };
      assert.equal(await send('udp', 5555, 'steered'), 'endpoint:steered', 'udp 5555: the rule, via nsm-1');
      assert.equal(await send('udp', 5556, 'port'), 'main:port', 'udp 5556: no rule, via eth0');
      assert.equal(await send('tcp', 5555, 'proto'), 'main:proto', 'tcp 5555: no rule, via eth0');

      // Without the rules, the selected flow goes by the main table as well.
      await dp.clearPolicies(pod, base);
      assert.equal(await send('udp', 5555, 'cleared'), 'main:cleared', 'udp 5555 after clear: via eth0');
      await dp.deleteLink(pod, 'nsm-1');
    });
  }
});
