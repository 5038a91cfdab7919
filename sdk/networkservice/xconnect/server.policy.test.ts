import assert from 'node:assert/strict';
import { ConnectionContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { background } from '../../core/context.js';
import { policyTableBase } from '../../kernel/index.js';
import { request } from '../../testing/connections.js';
import { clientNs, kernelPref, lines, NSE_URL, PEER_URL, setup } from './testing.js';

/** A request whose context asks for one policy: udp to port 53 goes to 10.53.0.0/16 through this connection. */
function withPolicy(id: string, pref = kernelPref()) {
  const req = request({ id }, [pref]);
  req.connection!.context = ConnectionContext.fromPartial({
    ipContext: { policies: [{ proto: 'udp', dstPort: '53', routes: [{ prefix: '10.53.0.0/16' }] }] },
  });
  return req;
}

describe('xconnect server with policy routes', () => {
  for (const [kind, url] of [
    ['a local endpoint (veth)', NSE_URL],
    ['a remote forwarder (VXLAN)', PEER_URL],
  ] as const) {
    it(`writes the rule and table in the client namespace and removes the rule on close: ${kind}`, async () => {
      const { runner, chain } = setup(url);
      const table = policyTableBase('c1');
      const conn = await chain.request(background(), withPolicy('c1'));
      const got = lines(runner);
      assert.ok(
        got.includes(`<client>: rule add from all ipproto udp dport 53 table ${table}`),
        got.join('\n'),
      );
      assert.ok(got.includes(`<client>: route replace 10.53.0.0/16 dev nsm-1 table ${table} scope link`));
      assert.ok(!got.some((l) => l.startsWith('<nse>: rule')), 'the endpoint side gets no policy');
      runner.reset();
      runner.setJson('-4 rule show', [{ priority: 32765, table: String(table) }], clientNs.path);
      await chain.close(background(), conn);
      assert.ok(
        lines(runner).includes(`<client>: rule del pref 32765 table ${table}`),
        lines(runner).join('\n'),
      );
    });
  }

  it('refuses a malformed policy before the kernel is touched, naming the field', async () => {
    const { runner, chain } = setup(NSE_URL);
    const req = withPolicy('c2');
    req.connection!.context!.ipContext!.policies[0].dstPort = '99999';
    await assert.rejects(chain.request(background(), req), /policies\[0\]\.dst_port/);
    assert.ok(!lines(runner).some((l) => l.includes('rule add')));
  });
});
