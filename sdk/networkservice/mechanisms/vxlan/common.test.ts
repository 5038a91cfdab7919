import assert from 'node:assert/strict';
import { connection } from '../../../testing/connections.js';
import type { End } from '../../xconnect/mechanism.js';
import { mechanism } from '../common.js';
import { ipParam, planVxlan, tunnelMtu } from './common.js';

const settings = { tunnelIP: '10.0.0.1', port: 4789, mtu: 1450 };
const kernelEnd = (name: string, path: string): End => ({
  mechanism: mechanism('LOCAL', 'KERNEL', { name, inodeURL: 'inode://4/1' }),
  netns: { path },
});

describe('vxlan mechanism planning', () => {
  const mtuCases = [
    { name: 'IPv4 underlay of 1500', underlay: 1500, ip: '10.0.0.1', want: 1450 },
    { name: 'IPv6 underlay of 1500', underlay: 1500, ip: 'fd00::1', want: 1430 },
    { name: 'IPv4 jumbo underlay', underlay: 9000, ip: '192.168.1.1', want: 8950 },
  ];
  for (const c of mtuCases) {
    it(`sizes the tunnel for an ${c.name}`, () => assert.equal(tunnelMtu(c.underlay, c.ip), c.want));
  }

  it('client side: a netdev in the client namespace towards the address and VNI the peer answered', () => {
    const plan = planVxlan(
      {
        conn: connection({ id: 'c2' }),
        incoming: kernelEnd('nsm-1', '/var/run/netns/client'),
        outgoing: {
          mechanism: mechanism('REMOTE', 'VXLAN', { dst_ip: '10.0.0.2', dst_port: '4790', vni: '4242' }),
        },
        owner: 'o',
      },
      settings,
    );
    assert.deepEqual(plan?.tunnel, { vni: 4242, local: '10.0.0.1', remote: '10.0.0.2', port: 4790 });
    assert.equal(plan?.claimVni, true, 'the peer chose the VNI: this node must claim it');
    assert.deepEqual(
      [plan?.end.name, plan?.end.netns.path, plan?.end.alias],
      ['nsm-1', '/var/run/netns/client', 'nsm:o:c2:client'],
    );
    assert.equal(plan?.end.mtu, 1450);
  });

  it('endpoint side: a netdev in the endpoint namespace towards the source address, with our VNI', () => {
    const plan = planVxlan(
      {
        conn: connection({ id: 'c3', context: { MTU: 1300 } }),
        incoming: { mechanism: mechanism('REMOTE', 'VXLAN', { src_ip: '10.0.0.2', vni: '7' }) },
        outgoing: kernelEnd('nse-if', '/var/run/netns/nse'),
        owner: 'o',
      },
      settings,
    );
    assert.deepEqual(plan?.tunnel, { vni: 7, local: '10.0.0.1', remote: '10.0.0.2', port: 4789 });
    assert.equal(plan?.claimVni, false, 'we allocated the VNI when we accepted');
    assert.equal(plan?.end.alias, 'nsm:o:c3:endpoint');
    assert.equal(plan?.end.mtu, 1300, 'a context may ask for less than the tunnel carries');
  });

  it('never plans more than the tunnel carries', () => {
    const plan = planVxlan(
      {
        conn: connection({ id: 'c3', context: { MTU: 9000 } }),
        incoming: { mechanism: mechanism('REMOTE', 'VXLAN', { src_ip: '10.0.0.2', vni: '7' }) },
        outgoing: kernelEnd('nse-if', '/var/run/netns/nse'),
        owner: 'o',
      },
      settings,
    );
    assert.equal(plan?.end.mtu, 1450);
  });

  const refusals = [
    {
      name: 'a VNI out of range',
      params: { dst_ip: '10.0.0.2', vni: '0' },
      want: /"vni" must be a number from 1/,
    },
    {
      name: 'a peer address that is no IP',
      params: { dst_ip: 'peer', vni: '5' },
      want: /"dst_ip" must be an IP address/,
    },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} in the answer with INVALID_ARGUMENT`, () => {
      assert.throws(
        () =>
          planVxlan(
            {
              conn: connection({ id: 'c2' }),
              incoming: kernelEnd('nsm-1', '/var/run/netns/client'),
              outgoing: { mechanism: mechanism('REMOTE', 'VXLAN', c.params) },
              owner: 'o',
            },
            settings,
          ),
        (e: Error & { code?: number }) => e.code === 3 && c.want.test(e.message),
      );
    });
  }

  it('leaves KERNEL to KERNEL to the kernel mechanism', () => {
    const k = kernelEnd('a', '/var/run/netns/a');
    assert.equal(
      planVxlan({ conn: connection(), incoming: k, outgoing: k, owner: 'o' }, settings),
      undefined,
    );
  });
});

describe('vxlan ipParam', () => {
  const cases: { name: string; ip: string; want?: RegExp }[] = [
    { name: 'accepts a unicast IPv4 address', ip: '10.0.0.2' },
    { name: 'accepts a unicast IPv6 address', ip: 'fd00::2' },
    {
      name: 'refuses 0.0.0.0',
      ip: '0.0.0.0',
      want: /must be a unicast address, got "0.0.0.0" \(unspecified\)/,
    },
    { name: 'refuses ::', ip: '::', want: /\(unspecified\)/ },
    { name: 'refuses 255.255.255.255', ip: '255.255.255.255', want: /\(broadcast\)/ },
    { name: 'refuses IPv4 multicast', ip: '239.1.2.3', want: /got "239.1.2.3" \(multicast\)/ },
    { name: 'refuses IPv6 multicast', ip: 'ff02::1', want: /\(multicast\)/ },
    { name: 'refuses a non-address', ip: 'not-an-ip', want: /must be an IP address, got "not-an-ip"/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = mechanism('REMOTE', 'VXLAN', { src_ip: c.ip });
      if (!c.want) assert.equal(ipParam(m, 'src_ip', 'VXLAN mechanism'), c.ip);
      else assert.throws(() => ipParam(m, 'src_ip', 'VXLAN mechanism'), c.want);
    });
  }
});
