import assert from 'node:assert/strict';
import { connection } from '../../../testing/connections.js';
import type { End } from '../../xconnect/mechanism.js';
import { mechanism } from '../common.js';
import { planVeth } from './common.js';

const clientEnd: End = {
  mechanism: mechanism('LOCAL', 'KERNEL', { name: 'nsm-1', inodeURL: 'inode://4/1' }),
  netns: { path: '/var/run/netns/client' },
};
const endpointEnd: End = {
  mechanism: mechanism('LOCAL', 'KERNEL', { name: 'nse-if', inodeURL: 'inode://4/2' }),
  netns: { path: '/var/run/netns/nse' },
};
const ipContext = { srcIpAddrs: ['172.16.1.101/32'], dstIpAddrs: ['172.16.1.100/32'] };

describe('kernel mechanism planning (veth)', () => {
  it('plans a veth pair between the two namespaces, marked with the owner and the connection', () => {
    const plan = planVeth(
      { conn: connection({ id: 'c1' }), incoming: clientEnd, outgoing: endpointEnd, owner: 'fwd@10.0.0.1' },
      1500,
    );
    assert.equal(plan?.kind, 'veth');
    assert.deepEqual(
      [plan?.client.netns.path, plan?.client.name, plan?.client.alias, plan?.client.mtu],
      ['/var/run/netns/client', 'nsm-1', 'nsm:fwd@10.0.0.1:c1:client', 1500],
    );
    assert.deepEqual(
      [plan?.endpoint.netns.path, plan?.endpoint.name, plan?.endpoint.alias],
      ['/var/run/netns/nse', 'nse-if', 'nsm:fwd@10.0.0.1:c1:endpoint'],
    );
  });

  it('is the same plan for the same connection (so a refresh changes nothing)', () => {
    const input = {
      conn: connection({ id: 'c1', context: { ipContext } }),
      incoming: clientEnd,
      outgoing: endpointEnd,
      owner: 'o',
    };
    assert.equal(JSON.stringify(planVeth(input, 1500)), JSON.stringify(planVeth(input, 1500)));
  });

  it("uses the context's MTU over the default", () => {
    const plan = planVeth(
      {
        conn: connection({ id: 'c1', context: { MTU: 9000 } }),
        incoming: clientEnd,
        outgoing: endpointEnd,
        owner: 'o',
      },
      1500,
    );
    assert.equal(plan?.client.mtu, 9000);
    assert.equal(plan?.endpoint.config.mtu, 9000);
  });

  it("gives IP payload static neighbours with the peer's MAC", () => {
    const plan = planVeth(
      {
        conn: connection({ id: 'c1', payload: 'IP', context: { ipContext } }),
        incoming: clientEnd,
        outgoing: endpointEnd,
        owner: 'o',
      },
      1500,
    );
    assert.deepEqual(plan?.client.config.neighbors, [{ ip: '172.16.1.100', mac: plan?.endpoint.mac }]);
    assert.deepEqual(plan?.endpoint.config.neighbors, [{ ip: '172.16.1.101', mac: plan?.client.mac }]);
  });

  it('leaves anything but KERNEL to KERNEL to other mechanisms', () => {
    const remote: End = { mechanism: mechanism('REMOTE', 'VXLAN', { vni: '1' }) };
    assert.equal(
      planVeth({ conn: connection(), incoming: clientEnd, outgoing: remote, owner: 'o' }, 1500),
      undefined,
    );
    assert.equal(
      planVeth({ conn: connection(), incoming: remote, outgoing: endpointEnd, owner: 'o' }, 1500),
      undefined,
    );
  });
});
