import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { ConnectionContext, IPContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { withClock } from '../../core/clock.js';
import { background } from '../../core/context.js';
import * as next from '../../core/next.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { getErrorCode } from '../../errors/index.js';
import { request } from '../../testing/connections.js';
import * as metadata from '../metadata/index.js';
import type { Family, Iptables } from './index.js';
import * as l7bypass from './index.js';

const ISTIO_NAT =
  '-P OUTPUT ACCEPT\n-N ISTIO_OUTPUT\n-A OUTPUT -p tcp -j ISTIO_OUTPUT\n-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n';

/** An iptables that records every change and holds the nat rules per family. */
function fakeIptables(nat: Partial<Record<Family, string>>, failEnsure = false) {
  const calls: string[] = [];
  const ipt: Iptables = {
    listNat: async (f) => {
      if (nat[f] === undefined) throw new Error(`can't initialize ${f} nat table: Permission denied`);
      return nat[f] ?? '';
    },
    ensureFirst: async (f, rule) => {
      if (failEnsure) throw new Error('iptables: Permission denied (you must be root)');
      calls.push(`ensure ${f} ${rule.join(' ')}`);
    },
    remove: async (f, rule) => {
      calls.push(`remove ${f} ${rule.join(' ')}`);
    },
  };
  return { ipt, calls };
}

/** The endpoint side: answers with an interface and addresses, records what it saw. */
function endpoint(seen: { labels: Record<string, string>[]; closed: string[] }, addr = '172.16.0.1/32') {
  const e: NetworkServiceElement = {
    async request(_ctx, req) {
      seen.labels.push({ ...req.connection!.labels });
      const conn = req.connection!;
      conn.mechanism = { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'nsm-1' } };
      conn.context = ConnectionContext.fromPartial({ ipContext: { srcIpAddrs: [addr] } });
      return conn;
    },
    async close(_ctx, conn) {
      seen.closed.push(conn.id);
    },
  };
  return e;
}

function chain(
  opts: l7bypass.L7BypassClientOptions,
  seen: { labels: Record<string, string>[]; closed: string[] },
  addr?: string,
) {
  return newNetworkServiceChain(
    metadata.newServer(),
    l7bypass.newClient(opts),
    {
      request: (ctx, req) => next.server(ctx).request(ctx, req),
      close: (ctx, c) => next.server(ctx).close(ctx, c),
    },
    endpoint(seen, addr),
  );
}

const RULE = '-o nsm-1 -m comment --comment nsm-l7-bypass:c1 -j RETURN';

describe('l7bypass client', () => {
  it('puts a RETURN rule for the interface first in nat OUTPUT when a sidecar redirects, and removes it on close', async () => {
    const { ipt, calls } = fakeIptables({ ipv4: ISTIO_NAT });
    const seen = { labels: [] as Record<string, string>[], closed: [] as string[] };
    const c = chain({ iptables: ipt }, seen);
    const conn = await c.request(background(), request({ id: 'c1', labels: { app: 'x' } }));
    assert.deepEqual(calls, [`ensure ipv4 ${RULE}`]);
    await c.request(background(), { connection: conn, mechanismPreferences: [] }); // refresh
    assert.deepEqual(
      calls,
      [`ensure ipv4 ${RULE}`, `ensure ipv4 ${RULE}`],
      'a refresh re-checks, idempotently',
    );
    await c.close(background(), conn);
    assert.deepEqual(calls.slice(2), [`remove ipv4 ${RULE}`]);
    assert.deepEqual(seen.closed, ['c1']);
  });

  it('keeps only the data-plane check from the sidecar for ?l7=capture, does not send the key, and keeps the mode on refresh', async () => {
    const { ipt, calls } = fakeIptables({ ipv4: ISTIO_NAT });
    const seen = { labels: [] as Record<string, string>[], closed: [] as string[] };
    const c = chain({ iptables: ipt, policy: 'always' }, seen);
    const conn = await c.request(background(), request({ id: 'c1', labels: { app: 'x', l7: 'capture' } }));
    await c.request(background(), { connection: conn, mechanismPreferences: [] });
    await c.close(background(), conn);
    const liveness = '-o nsm-1 -p tcp --dport 9 -m comment --comment nsm-l7-bypass:c1 -j RETURN';
    assert.deepEqual(calls, [
      `ensure ipv4 ${liveness}`,
      `ensure ipv4 ${liveness}`,
      `remove ipv4 ${liveness}`,
    ]);
    assert.deepEqual(seen.labels, [{ app: 'x' }, { app: 'x' }]);
  });

  const none: {
    name: string;
    opts: l7bypass.L7BypassClientOptions['policy'];
    nat: Partial<Record<Family, string>>;
  }[] = [
    { name: 'auto, and the nat table has no redirect', opts: 'auto', nat: { ipv4: '-P OUTPUT ACCEPT\n' } },
    { name: 'auto, and the nat table cannot be read', opts: 'auto', nat: {} },
    { name: 'off, even with a sidecar', opts: 'off', nat: { ipv4: ISTIO_NAT } },
  ];
  for (const { name, opts, nat } of none) {
    it(`installs nothing when ${name}`, async () => {
      const { ipt, calls } = fakeIptables(nat);
      const seen = { labels: [] as Record<string, string>[], closed: [] as string[] };
      const c = chain({ iptables: ipt, policy: opts }, seen);
      await c.close(background(), await c.request(background(), request({ id: 'c1' })));
      assert.deepEqual(calls, []);
    });
  }

  it('auto reads the nat table at most every AUTO_RECHECK_MS, and notices a sidecar that came later', async () => {
    const nat: Partial<Record<Family, string>> = { ipv4: '-P OUTPUT ACCEPT\n' };
    const { ipt, calls } = fakeIptables(nat);
    let lists = 0;
    const listNat = ipt.listNat;
    ipt.listNat = (f) => {
      lists++;
      return listNat(f);
    };
    let now = 1_000;
    const ctx = withClock(background(), { now: () => now, setTimeout: () => ({ clear() {} }) });
    const seen = { labels: [] as Record<string, string>[], closed: [] as string[] };
    const c = chain({ iptables: ipt }, seen);
    const c1 = await c.request(ctx, request({ id: 'c1' }));
    await c.request(ctx, request({ id: 'c2' }));
    assert.equal(lists, 1, 'the second connection uses the first look');
    nat.ipv4 = ISTIO_NAT; // the sidecar sets up its rules
    now += l7bypass.AUTO_RECHECK_MS;
    await c.request(ctx, { connection: c1, mechanismPreferences: [] }); // refresh
    assert.equal(lists, 2);
    assert.deepEqual(calls, [`ensure ipv4 ${RULE}`]);
  });

  it('uses ip6tables for an IPv6 connection', async () => {
    const { ipt, calls } = fakeIptables({ ipv6: ISTIO_NAT });
    const seen = { labels: [] as Record<string, string>[], closed: [] as string[] };
    const c = chain({ iptables: ipt }, seen, 'fd00::1/128');
    await c.close(background(), await c.request(background(), request({ id: 'c1' })));
    assert.deepEqual(calls, [`ensure ipv6 ${RULE}`, `remove ipv6 ${RULE}`]);
  });

  it('fails the request with FAILED_PRECONDITION and closes the connection when policy always cannot install', async () => {
    const { ipt } = fakeIptables({}, true);
    const seen = { labels: [] as Record<string, string>[], closed: [] as string[] };
    const c = chain({ iptables: ipt, policy: 'always' }, seen);
    await assert.rejects(
      c.request(background(), request({ id: 'c1' })),
      (e: unknown) =>
        getErrorCode(e) === status.FAILED_PRECONDITION &&
        /failed to keep connection c1 out of the L7 sidecar .*Permission denied/.test(String(e)),
    );
    assert.deepEqual(seen.closed, ['c1']);
  });

  it('rejects an unknown l7 value before the request leaves', async () => {
    const { ipt } = fakeIptables({});
    const seen = { labels: [] as Record<string, string>[], closed: [] as string[] };
    const c = chain({ iptables: ipt }, seen);
    await assert.rejects(
      c.request(background(), request({ id: 'c1', labels: { l7: 'sidecar' } })),
      (e: unknown) => getErrorCode(e) === status.INVALID_ARGUMENT && /l7="sidecar"/.test(String(e)),
    );
    assert.deepEqual(seen.labels, []);
  });

  it('throws at construction for an unknown policy', () => {
    assert.throws(
      () => l7bypass.newClient({ policy: 'sometimes' as l7bypass.BypassPolicy }),
      /policy "sometimes"/,
    );
  });
});

describe('l7bypass common', () => {
  it('finds a redirect in iptables -S output', () => {
    assert.equal(l7bypass.hasRedirect(ISTIO_NAT), true);
    assert.equal(
      l7bypass.hasRedirect('-A PROXY_INIT_OUTPUT -p tcp -j DNAT --to-destination 127.0.0.1:4140\n'),
      true,
    );
    assert.equal(l7bypass.hasRedirect('-P OUTPUT ACCEPT\n-A OUTPUT -o lo -j RETURN\n'), false);
  });

  it('reads the families of a connection', () => {
    const cases: { ip: Parameters<typeof l7bypass.families>[0]; want: Family[] }[] = [
      { ip: undefined, want: ['ipv4'] },
      { ip: IPContext.fromPartial({ srcIpAddrs: ['10.0.0.1/32'] }), want: ['ipv4'] },
      { ip: IPContext.fromPartial({ dstRoutes: [{ prefix: 'fd00::/64' }] }), want: ['ipv6'] },
      {
        ip: IPContext.fromPartial({ srcIpAddrs: ['10.0.0.1/32'], srcRoutes: [{ prefix: 'fd00::/64' }] }),
        want: ['ipv4', 'ipv6'],
      },
    ];
    for (const { ip, want } of cases) assert.deepEqual(l7bypass.families(ip), want);
  });

  it('reads the mode: bypass by default, capture on request', () => {
    assert.equal(l7bypass.parseL7Mode(undefined, 'x'), 'bypass');
    assert.equal(l7bypass.parseL7Mode('bypass', 'x'), 'bypass');
    assert.equal(l7bypass.parseL7Mode('capture', 'x'), 'capture');
    assert.throws(
      () => l7bypass.parseL7Mode('Capture', 'the NSURL'),
      /failed to read the NSURL: l7="Capture"/,
    );
  });
});
