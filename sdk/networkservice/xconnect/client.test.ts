import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { recorder } from '../../testing/checks.js';
import { request } from '../../testing/connections.js';
import * as clienturl from '../clienturl/index.js';
import { mechanism } from '../mechanisms/common.js';
import * as kernel from '../mechanisms/kernel/index.js';
import * as vxlan from '../mechanisms/vxlan/index.js';
import * as metadata from '../metadata/index.js';
import * as xconnect from './index.js';
import { fakeResolver } from './testing.js';

const incoming = mechanism('LOCAL', 'KERNEL', { name: 'nsm-1', inodeURL: 'inode://1/2' });

/** The next hop: answers with the first preference, completed (VXLAN gets a VNI the first time). */
function peer(): NetworkServiceElement {
  let n = 0;
  return {
    async request(_ctx, req) {
      n++;
      const pref = req.mechanismPreferences[0];
      const m = req.connection?.mechanism ?? {
        ...pref,
        parameters: { ...pref.parameters, answer: String(n) },
      };
      return { ...req.connection!, mechanism: m };
    },
    close: async () => {},
  };
}

function setup(url: string) {
  const out = recorder();
  const chain = newNetworkServiceChain(
    metadata.newServer(),
    clienturl.newClient(url),
    xconnect.newClient({
      mechanisms: [
        kernel.newForwarderMechanism({ resolver: fakeResolver(), vethMtu: 1500 }),
        vxlan.newForwarderMechanism({
          tunnelIP: '10.0.0.1',
          port: 4789,
          mtu: 1450,
          vni: new vxlan.VniAllocator(),
        }),
      ],
    }),
    out,
    peer(),
  );
  return { out, chain };
}

describe('xconnect client', () => {
  it('offers KERNEL to a local endpoint (unix socket)', async () => {
    const { out, chain } = setup('unix:///var/lib/nsm/nse.sock');
    await chain.request(background(), request({ id: 'c', mechanism: incoming }, [incoming]));
    const sent = out.calls[0].request!;
    assert.deepEqual(sent.mechanismPreferences, [mechanism('LOCAL', 'KERNEL', {})]);
    assert.equal(sent.connection?.mechanism, undefined, "the incoming hop's mechanism is not sent on");
  });

  it('offers VXLAN from its tunnel address to a remote nsmgr', async () => {
    const { out, chain } = setup('tcp://10.0.0.2:5001');
    await chain.request(background(), request({ id: 'c', mechanism: incoming }));
    assert.deepEqual(out.calls[0].request!.mechanismPreferences, [
      mechanism('REMOTE', 'VXLAN', { src_ip: '10.0.0.1', src_port: '4789' }),
    ]);
  });

  it('returns the incoming mechanism and keeps the outgoing one for refreshes', async () => {
    const { out, chain } = setup('tcp://10.0.0.2:5001');
    const conn = await chain.request(background(), request({ id: 'c', mechanism: incoming }));
    assert.deepEqual(conn.mechanism, incoming);
    await chain.request(background(), { connection: conn, mechanismPreferences: [] });
    assert.equal(
      out.calls[1].request?.connection?.mechanism?.parameters.answer,
      '1',
      'a refresh carries the agreed mechanism',
    );
  });

  it('closes with the outgoing mechanism', async () => {
    const { out, chain } = setup('tcp://10.0.0.2:5001');
    const conn = await chain.request(background(), request({ id: 'c', mechanism: incoming }));
    await chain.close(background(), conn);
    assert.equal(out.calls[1].conn?.mechanism?.type, 'VXLAN');
  });

  it('closes with the connection mechanism when it never requested', async () => {
    const { out, chain } = setup('tcp://10.0.0.2:5001');
    await chain.close(background(), request({ id: 'c', mechanism: incoming }).connection!);
    assert.deepEqual(out.calls[0].conn?.mechanism, incoming);
  });

  it('offers the first mechanism that reaches the URL, in the order given', async () => {
    const out = recorder();
    const offer = (type: string) => ({ type, offer: () => mechanism('LOCAL', type) });
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      clienturl.newClient('unix:///x.sock'),
      xconnect.newClient({ mechanisms: [{ type: 'NONE', offer: () => undefined }, offer('A'), offer('B')] }),
      out,
      peer(),
    );
    await chain.request(background(), request({ id: 'c', mechanism: incoming }));
    assert.deepEqual(out.calls[0].request!.mechanismPreferences, [mechanism('LOCAL', 'A')]);
  });

  it('refuses a URL none of its mechanisms reaches', async () => {
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      clienturl.newClient('tcp://10.0.0.2:5001'),
      xconnect.newClient({ mechanisms: [{ type: 'NONE', offer: () => undefined }] }),
      peer(),
    );
    await assert.rejects(
      chain.request(background(), request({ id: 'c', mechanism: incoming })),
      /none of this forwarder's mechanisms reaches tcp:\/\/10\.0\.0\.2:5001/,
    );
  });
});
