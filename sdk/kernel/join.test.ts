import assert from 'node:assert/strict';
import { bridgeName, type JoinSpec, planJoin } from './join.js';

const ipContext = {
  srcIpAddrs: ['172.16.7.1/32'],
  dstIpAddrs: ['172.16.7.0/32'],
  srcIpRequired: false,
  dstIpRequired: false,
  srcRoutes: [],
  dstRoutes: [],
  excludedPrefixes: [],
  ipNeighbors: [],
  extraPrefixRequest: [],
  extraPrefixes: [],
  policies: [],
};
const base: JoinSpec = { payload: 'IP', client: 'in-1', endpoint: 'out-1', ipContext, l2: 'bridge' };

describe('join plan', () => {
  it('IP: routes each side’s address out of the other interface instead of delivering it here', () => {
    const plan = planJoin(base);
    assert.deepEqual(plan.deleteLocal, [
      'route flush table local exact 172.16.7.0/32 dev in-1 type local',
      'route flush table local exact 172.16.7.1/32 dev out-1 type local',
    ]);
    assert.deepEqual(plan.ip, [
      'route replace table local unicast 172.16.7.0/32 dev out-1',
      'route replace table local unicast 172.16.7.1/32 dev in-1',
    ]);
    assert.deepEqual(plan.tc, []);
    const sysctls = Object.fromEntries(plan.sysctls);
    assert.equal(sysctls['net/ipv4/ip_forward'], '1');
    for (const dev of ['in-1', 'out-1']) {
      assert.equal(sysctls[`net/ipv4/conf/${dev}/proxy_arp`], '1');
      assert.equal(sysctls[`net/ipv4/conf/${dev}/accept_local`], '1');
      assert.equal(sysctls[`net/ipv4/neigh/${dev}/proxy_delay`], '0');
    }
    assert.equal(sysctls['net/ipv6/conf/all/forwarding'], undefined, 'no IPv6 address: IPv6 untouched');
  });

  it('IP with IPv6 addresses: host routes /128 and IPv6 forwarding', () => {
    const plan = planJoin({
      ...base,
      ipContext: { ...ipContext, srcIpAddrs: ['fd00::1/128'], dstIpAddrs: ['fd00::/128'] },
    });
    assert.deepEqual(plan.ip, [
      'route replace table local unicast fd00::/128 dev out-1',
      'route replace table local unicast fd00::1/128 dev in-1',
    ]);
    assert.equal(Object.fromEntries(plan.sysctls)['net/ipv6/conf/all/forwarding'], '1');
    assert.equal(Object.fromEntries(plan.sysctls)['net/ipv4/ip_forward'], undefined);
  });

  it('ETHERNET with a bridge: both interfaces in one bridge named after the client side', () => {
    const plan = planJoin({ ...base, payload: 'ETHERNET' });
    assert.deepEqual(plan.ip, [
      'link set in-1 master br-in-1',
      'link set out-1 master br-in-1',
      'link set br-in-1 up',
    ]);
    assert.deepEqual(plan.sysctls, [], 'no forwarding switched on for L2');
    assert.equal(bridgeName({ client: 'secure-abcdefgh' }), 'br-secure-abcde');
  });

  it('ETHERNET with mirred: an ingress redirect each way', () => {
    const plan = planJoin({ ...base, payload: 'ETHERNET', l2: 'mirred' });
    assert.deepEqual(plan.ip, []);
    assert.deepEqual(plan.tc, [
      'qdisc add dev in-1 handle ffff: ingress',
      'filter add dev in-1 parent ffff: prio 1 protocol all u32 match u32 0 0 action mirred egress redirect dev out-1',
      'qdisc add dev out-1 handle ffff: ingress',
      'filter add dev out-1 parent ffff: prio 1 protocol all u32 match u32 0 0 action mirred egress redirect dev in-1',
    ]);
  });

  it('refuses to join an interface to itself, and a malformed address', () => {
    assert.throws(() => planJoin({ ...base, endpoint: 'in-1' }), /cannot join interface in-1 to itself/);
    assert.throws(
      () => planJoin({ ...base, ipContext: { ...ipContext, srcIpAddrs: ['nope'] } }),
      /src_ip_addrs\[0\]/,
    );
  });
});
