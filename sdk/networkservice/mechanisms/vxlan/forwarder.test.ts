import assert from 'node:assert/strict';
import { connection } from '../../../testing/connections.js';
import { mechanism } from '../common.js';
import { newForwarderMechanism } from './forwarder.js';
import { VniAllocator } from './vni.js';

const TUNNEL_IP = '10.0.0.1';

function setup() {
  const vni = new VniAllocator();
  return { vni, vxlan: newForwarderMechanism({ tunnelIP: TUNNEL_IP, port: 4789, mtu: 1450, vni }) };
}

const fromPeer = (params: Record<string, string> = {}) =>
  mechanism('REMOTE', 'VXLAN', { src_ip: '10.0.0.2', src_port: '4789', ...params });

describe('vxlan forwarder mechanism', () => {
  it('offers VXLAN from its tunnel address to a remote URL only', () => {
    const { vxlan } = setup();
    assert.deepEqual(
      vxlan.offer('tcp://10.0.0.2:5001'),
      mechanism('REMOTE', 'VXLAN', { src_ip: TUNNEL_IP, src_port: '4789' }),
    );
    assert.equal(vxlan.offer('unix:///nse.sock'), undefined);
  });

  it('answers a new request with its address and a VNI it reserves', async () => {
    const { vni, vxlan } = setup();
    const got = await vxlan.accept(connection({ id: 'c' }), fromPeer(), undefined);
    const id = Number(got.mechanism.parameters.vni);
    assert.equal(got.reserved, true);
    assert.equal(vni.has(id), true);
    assert.equal(got.mechanism.parameters.dst_ip, TUNNEL_IP);
    assert.equal(got.mechanism.parameters.dst_port, '4789');
    vxlan.release(got.mechanism);
    assert.equal(vni.has(id), false, 'release gives it back');
  });

  it('keeps the agreed VNI on a refresh that forgot it, reserving nothing more', async () => {
    const { vxlan } = setup();
    const first = await vxlan.accept(connection({ id: 'c' }), fromPeer(), undefined);
    const again = await vxlan.accept(connection({ id: 'c' }), fromPeer(), first.mechanism);
    assert.equal(again.mechanism.parameters.vni, first.mechanism.parameters.vni);
    assert.equal(again.reserved, false);
  });

  it('accepts a VNI the restart reconciler holds for the connection without claiming it twice', async () => {
    const { vni, vxlan } = setup();
    vni.claim(77);
    const got = await vxlan.accept(connection({ id: 'c' }), fromPeer({ vni: '77' }), undefined);
    assert.equal(got.mechanism.parameters.vni, '77');
    assert.equal(got.reserved, false, 'nothing to give back if the request fails');
  });
});
