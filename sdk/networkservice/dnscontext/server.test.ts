import assert from 'node:assert/strict';
import { ConnectionContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { request } from '../../testing/connections.js';
import * as dnscontext from './index.js';

describe('dnscontext server', () => {
  it("hands out the endpoint's configs first and keeps different ones that were already there", async () => {
    const chain = newNetworkServiceChain(
      dnscontext.newServer({ configs: () => [{ dnsServerIps: ['172.16.0.1'], searchDomains: ['my-vl3'] }] }),
    );
    const req = request({ id: 'a' });
    req.connection!.context = ConnectionContext.fromPartial({
      dnsContext: {
        configs: [
          { dnsServerIps: ['172.16.0.1'], searchDomains: ['my-vl3'] },
          { dnsServerIps: ['10.0.0.53'], searchDomains: ['other'] },
        ],
      },
    });
    const conn = await chain.request(background(), req);
    assert.deepEqual(
      conn.context?.dnsContext?.configs.map((c) => c.dnsServerIps[0]),
      ['172.16.0.1', '10.0.0.53'],
    );
  });

  it('leaves the context alone when it has nothing to hand out', async () => {
    const chain = newNetworkServiceChain(dnscontext.newServer({ configs: () => [] }));
    const conn = await chain.request(background(), request({ id: 'a' }));
    assert.equal(conn.context?.dnsContext, undefined);
  });
});
