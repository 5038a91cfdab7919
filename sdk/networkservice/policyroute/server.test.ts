import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { isNsmError } from '../../errors/index.js';
import { request } from '../../testing/connections.js';
import * as policyroute from './index.js';

const FILE = `
- from: 172.16.2.201/24
  proto: 6
  dstport: 6666
  routes:
    - prefix: 172.16.3.0/24
      nexthop: 172.16.2.200
- proto: udp
  srcport: 5000-5010
  routes:
    - prefix: 10.9.0.0/16
`;

describe('policyroute', () => {
  it("parses upstream's policy file into ip_context.policies", () => {
    assert.deepEqual(policyroute.parsePolicyFile(FILE, 'pbr.yaml'), [
      {
        from: '172.16.2.201/24',
        proto: '6',
        dstPort: '6666',
        srcPort: '',
        routes: [{ prefix: '172.16.3.0/24', nextHop: '172.16.2.200' }],
      },
      {
        from: '',
        proto: 'udp',
        dstPort: '',
        srcPort: '5000-5010',
        routes: [{ prefix: '10.9.0.0/16', nextHop: '' }],
      },
    ]);
  });

  for (const [name, text, re] of [
    ['not a list', 'from: x', /want a list/],
    ['routes not a list', '- routes: 1', /routes must be a list/],
    ['a bad port', '- proto: tcp\n  dstport: 99999', /pbr\.yaml.*policies\[0\]\.dst_port/],
  ] as const) {
    it(`refuses a file with ${name}, naming it`, () => {
      assert.throws(
        () => policyroute.parsePolicyFile(text, 'pbr.yaml'),
        (e: unknown) => isNsmError(e) && e.code === status.INVALID_ARGUMENT && re.test(e.message),
      );
    });
  }

  it('puts the policies into every request', async () => {
    const policies = policyroute.parsePolicyFile(FILE, 'pbr.yaml');
    const chain = newNetworkServiceChain(policyroute.newServer({ policies: () => policies }));
    const conn = await chain.request(background(), request({ id: 'a' }));
    assert.equal(conn.context?.ipContext?.policies.length, 2);
    assert.equal(conn.context?.ipContext?.policies[0].routes[0].nextHop, '172.16.2.200');
  });
});
