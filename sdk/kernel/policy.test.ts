import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { PolicyRoute } from '../../api/gen/networkservice/connectioncontext.js';
import { isNsmError } from '../errors/index.js';
import { newDataplane } from './dataplane.js';
import {
  MAX_POLICIES,
  POLICY_TABLE_MIN,
  type PolicySpec,
  policyCommands,
  policyPlan,
  policyRules6,
  policyTableBase,
} from './policy.js';
import { newRecordingIpRunner } from './recording-ip-runner.js';

type In = Parameters<typeof PolicyRoute.fromPartial>[0];

const planCases: { name: string; input: In[]; want: PolicySpec[] }[] = [
  {
    name: 'all selectors, a route with a next hop and a link route',
    input: [
      {
        from: '10.0.0.7/24',
        proto: 'TCP',
        dstPort: '8080',
        srcPort: '1000-2000',
        routes: [{ prefix: '192.168.1.9/16', nextHop: '172.16.1.100' }, { prefix: '10.9.0.0/16' }],
      },
    ],
    want: [
      {
        from: '10.0.0.0/24',
        proto: 'tcp',
        dport: '8080',
        sport: '1000-2000',
        routes: [{ prefix: '192.168.0.0/16', via: '172.16.1.100' }, { prefix: '10.9.0.0/16' }],
      },
    ],
  },
  {
    name: 'an empty route prefix is the default route; no selectors means every packet',
    input: [{ routes: [{ prefix: '', nextHop: '172.16.1.100' }] }],
    want: [{ routes: [{ prefix: '0.0.0.0/0', via: '172.16.1.100' }] }],
  },
  {
    name: 'IPv6: from, routes with and without a next hop; an empty prefix is ::/0',
    input: [
      {
        from: 'fd00::7/64',
        proto: 'udp',
        routes: [
          { prefix: 'fd01::/64', nextHop: 'fd00::1' },
          { prefix: '', nextHop: 'fd00::1' },
        ],
      },
    ],
    want: [
      {
        from: 'fd00::/64',
        proto: 'udp',
        routes: [
          { prefix: 'fd01::/64', via: 'fd00::1' },
          { prefix: '::/0', via: 'fd00::1' },
        ],
        family: 6,
      },
    ],
  },
  {
    name: 'IPv6 from the routes alone',
    input: [{ proto: 'tcp', routes: [{ prefix: 'fd02::/48' }] }],
    want: [{ proto: 'tcp', routes: [{ prefix: 'fd02::/48' }], family: 6 }],
  },
  {
    name: 'a one-port range is written as the port',
    input: [{ proto: '17', dstPort: '53-53', routes: [] }],
    want: [{ proto: '17', dport: '53', routes: [] }],
  },
];

const badCases: { name: string; input: In[]; field: RegExp }[] = [
  { name: 'a malformed from', input: [{ from: '10.0.0/24' }], field: /policies\[0\]\.from/ },
  {
    name: 'an IPv6 from with an IPv4 route',
    input: [{ from: 'fd00::/64', routes: [{ prefix: '10.0.0.0/8' }] }],
    field: /policies\[0\]\.routes\[0\]\.prefix: IPv4 in an IPv6 policy/,
  },
  {
    name: 'an IPv4 route with an IPv6 next hop',
    input: [{ routes: [{ prefix: '10.0.0.0/8', nextHop: 'fd00::1' }] }],
    field: /policies\[0\]\.routes\[0\]\.nextHop: IPv6 in an IPv4 policy/,
  },
  { name: 'a port without proto', input: [{ dstPort: '80' }], field: /a port needs proto/ },
  {
    name: 'a port out of range',
    input: [{ proto: 'tcp', srcPort: '70000' }],
    field: /policies\[0\]\.src_port/,
  },
  { name: 'a reversed range', input: [{ proto: 'tcp', dstPort: '90-80' }], field: /policies\[0\]\.dst_port/ },
  { name: 'a proto with spaces', input: [{ proto: 'tcp table 1' }], field: /policies\[0\]\.proto/ },
  {
    name: 'a bad next hop',
    input: [{}, { routes: [{ prefix: '10.0.0.0/8', nextHop: 'x' }] }],
    field: /policies\[1\]\.routes\[0\]\.nextHop/,
  },
];

describe('policy routes', () => {
  describe('policyPlan', () => {
    for (const c of planCases) {
      it(c.name, () => {
        assert.deepEqual(policyPlan(c.input.map((p) => PolicyRoute.fromPartial(p))), c.want);
      });
    }
    for (const c of badCases) {
      it(`refuses ${c.name} with INVALID_ARGUMENT naming the field`, () => {
        assert.throws(
          () => policyPlan(c.input.map((p) => PolicyRoute.fromPartial(p))),
          (e: unknown) => isNsmError(e) && e.code === status.INVALID_ARGUMENT && c.field.test(e.message),
        );
      });
    }
    it(`refuses more than ${MAX_POLICIES} policies`, () => {
      const many = Array.from({ length: MAX_POLICIES + 1 }, () => PolicyRoute.fromPartial({}));
      assert.throws(() => policyPlan(many), /too many ip_context\.policies/);
    });
  });

  describe('policyTableBase', () => {
    it('is stable for a connection, above the reserved tables, and leaves room for every policy', () => {
      const a = policyTableBase('conn-a');
      assert.equal(policyTableBase('conn-a'), a);
      assert.ok(a >= POLICY_TABLE_MIN);
      assert.ok(a + MAX_POLICIES - 1 <= 0xffffffff);
      assert.equal((a - POLICY_TABLE_MIN) % MAX_POLICIES, 0);
      assert.notEqual(policyTableBase('conn-b'), a);
    });
  });

  describe('policyCommands', () => {
    it('writes each policy into its own table, routes before the rule', () => {
      const lines = policyCommands('nsm-1', {
        tableBase: 70000,
        policies: [
          {
            from: '10.0.0.0/24',
            proto: 'udp',
            sport: '5000-5010',
            dport: '53',
            routes: [{ prefix: '0.0.0.0/0', via: '172.16.1.100' }],
          },
          { routes: [{ prefix: '10.9.0.0/16' }] },
        ],
      });
      assert.deepEqual(lines, [
        'route replace 0.0.0.0/0 via 172.16.1.100 dev nsm-1 table 70000 onlink',
        'rule add from 10.0.0.0/24 ipproto udp sport 5000-5010 dport 53 table 70000',
        'route replace 10.9.0.0/16 dev nsm-1 table 70001 scope link',
        'rule add from all table 70001',
      ]);
    });

    it('leaves the rules of IPv6 policies to policyRules6 (an ip -6 batch), routes stay in the batch', () => {
      const cfg = {
        tableBase: 70000,
        policies: [
          { routes: [{ prefix: '10.9.0.0/16' }] },
          {
            from: 'fd00::/64',
            proto: 'tcp',
            routes: [{ prefix: 'fd01::/64', via: 'fd00::1' }],
            family: 6 as const,
          },
        ],
      };
      assert.deepEqual(policyCommands('nsm-1', cfg), [
        'route replace 10.9.0.0/16 dev nsm-1 table 70000 scope link',
        'rule add from all table 70000',
        'route replace fd01::/64 via fd00::1 dev nsm-1 table 70001 onlink',
      ]);
      assert.deepEqual(policyRules6(cfg), ['rule add from fd00::/64 ipproto tcp table 70001']);
    });
  });

  describe('dataplane', () => {
    const pod = { path: '/var/run/netns/pod' };
    const config = {
      addresses: ['172.16.1.101/32'],
      routes: [],
      neighbors: [],
      policies: { tableBase: 70000, policies: [{ proto: 'tcp', routes: [{ prefix: '10.9.0.0/16' }] }] },
    };

    it('removes only the rules of the connection range, by priority and table', async () => {
      const runner = newRecordingIpRunner();
      runner.setJson(
        '-4 rule show',
        [
          { priority: 0, src: 'all', table: 'local' },
          { priority: 100, src: 'all', table: '69999' },
          { priority: 32764, src: 'all', table: '70001' },
          { priority: 32765, src: 'all', table: '70000' },
          { priority: 32766, src: 'all', table: '70016' },
          { priority: 32766, src: 'all', table: 'main' },
        ],
        pod.path,
      );
      runner.setJson('-6 rule show', [{ priority: 32765, src: 'fd00::', table: '70002' }], pod.path);
      await newDataplane(runner).clearPolicies(pod, 70000);
      assert.deepEqual(runner.batches, [
        {
          netns: pod.path,
          force: true,
          commands: ['rule del pref 32764 table 70001', 'rule del pref 32765 table 70000'],
        },
        { netns: pod.path, force: true, family: 6, commands: ['rule del pref 32765 table 70002'] },
      ]);
    });

    it('clears the connection rules before configuring them again (ip rule add is not idempotent)', async () => {
      const runner = newRecordingIpRunner();
      runner.setJson('-4 rule show', [{ priority: 32765, table: '70000' }], pod.path);
      await newDataplane(runner).configureInterface(pod, 'nsm-1', config);
      assert.deepEqual(
        runner.batches.map((b) => b.commands),
        [
          ['rule del pref 32765 table 70000'],
          [
            'link set dev nsm-1 up',
            'addr replace 172.16.1.101/32 dev nsm-1',
            'route replace 10.9.0.0/16 dev nsm-1 table 70000 scope link',
            'rule add from all ipproto tcp table 70000',
          ],
        ],
      );
    });

    it('writes the IPv6 rules by an ip -6 batch after clearing, before the interface batch', async () => {
      const runner = newRecordingIpRunner();
      const v6 = {
        ...config,
        policies: {
          tableBase: 70000,
          policies: [{ proto: 'udp', routes: [{ prefix: 'fd01::/64' }], family: 6 as const }],
        },
      };
      await newDataplane(runner).configureInterface(pod, 'nsm-1', v6);
      assert.deepEqual(
        runner.queries.map((q) => q.args.join(' ')),
        ['-4 rule show', '-6 rule show'],
      );
      assert.deepEqual(
        runner.batches.map((b) => [b.family ?? 4, ...b.commands]),
        [
          [6, 'rule add from all ipproto udp table 70000'],
          [
            4,
            'link set dev nsm-1 up',
            'addr replace 172.16.1.101/32 dev nsm-1',
            'route replace fd01::/64 dev nsm-1 table 70000 scope link',
          ],
        ],
      );
    });

    it('queries nothing for a config without policies', async () => {
      const runner = newRecordingIpRunner();
      await newDataplane(runner).configureInterface(pod, 'nsm-1', { ...config, policies: undefined });
      assert.equal(runner.queries.length, 0);
    });
  });
});
