// Policy routes against the real kernel (root only), IPv4 and IPv6 side by side: the kernel's own
// route decision (`ip route get` with protocol and port, through the rules) sends the flows the rules
// select by the connection's interface and has no route for the others; configuring again adds no
// rule twice; clearing removes every rule of the connection in both families. All inside throw-away
// namespaces (nsmk-*). Traffic steered by IPv4 policies end to end: test/e2e/policy-routes.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IPContext } from '../../api/gen/networkservice/connectioncontext.js';
import { contextPlan } from './connection-context.js';
import { newDataplane } from './dataplane.js';
import { newIpRunner } from './iproute2.js';
import { inPolicyRange, policyTableBase } from './policy.js';
import { isRoot, TestNamespaces, type TestNetns } from './testing.js';

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
});
