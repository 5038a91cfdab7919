import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { IPContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { getErrorCode, isNsmError } from '../../errors/index.js';
import { PointToPointAllocator } from './point-to-point.js';

interface Seen {
  dst: string[];
  src: string[];
  srcRoutes: string[];
  dstRoutes: string[];
}

type Step =
  | { allocate: string; ctx?: Parameters<typeof IPContext.fromPartial>[0] }
  | { reuse: string; ctx?: Parameters<typeof IPContext.fromPartial>[0] }
  | { release: string };

/** What a plain request gets: addresses plus mirrored host routes. */
function p2p(dst: string[], src: string[]): Seen {
  return { dst, src, srcRoutes: dst, dstRoutes: src };
}

function seen(ctx: IPContext): Seen {
  return {
    dst: ctx.dstIpAddrs,
    src: ctx.srcIpAddrs,
    srcRoutes: ctx.srcRoutes.map((r) => r.prefix),
    dstRoutes: ctx.dstRoutes.map((r) => r.prefix),
  };
}

/**
 * Runs steps: `allocate` sends a fresh IPContext (built from ctx), `reuse` sends the IPContext the same
 * connection got last time (a refresh), with ctx fields overriding. Each step yields what the
 * IPContext holds afterwards, "released", or "<STATUS>" when it throws.
 */
function run(alloc: PointToPointAllocator, steps: Step[]): Array<Seen | string> {
  const last = new Map<string, IPContext>();
  return steps.map((step) => {
    if ('release' in step) {
      alloc.release(step.release);
      return 'released';
    }
    const connId = 'allocate' in step ? step.allocate : step.reuse;
    const base = 'reuse' in step ? last.get(connId) : undefined;
    const ctx = IPContext.fromPartial({ ...(base ?? {}), ...(step.ctx ?? {}) });
    try {
      alloc.allocate(connId, ctx);
    } catch (e) {
      return `<${status[getErrorCode(e)]}>`;
    }
    last.set(connId, ctx);
    return seen(ctx);
  });
}

describe('PointToPointAllocator', () => {
  const cases: Array<{
    name: string;
    input: { cidrs: string[]; steps: Step[] };
    want: Array<Seen | string>;
  }> = [
    {
      name: 'endpoint gets .100 and client .101 from a /31',
      input: { cidrs: ['172.16.1.100/31'], steps: [{ allocate: 'c1' }, { allocate: 'c2' }] },
      want: [p2p(['172.16.1.100/32'], ['172.16.1.101/32']), '<RESOURCE_EXHAUSTED>'],
    },
    {
      name: 'successive connections get successive pairs; a closed pair is reused',
      input: {
        cidrs: ['192.168.3.4/16'],
        steps: [
          { allocate: 'c1' },
          { allocate: 'c2' },
          { release: 'c1' },
          { allocate: 'c3' },
          { allocate: 'c4' },
        ],
      },
      want: [
        p2p(['192.168.0.0/32'], ['192.168.0.1/32']),
        p2p(['192.168.0.2/32'], ['192.168.0.3/32']),
        'released',
        p2p(['192.168.0.0/32'], ['192.168.0.1/32']),
        p2p(['192.168.0.4/32'], ['192.168.0.5/32']),
      ],
    },
    {
      name: 'IPv6 gives /128 pairs',
      input: { cidrs: ['fe80::/64'], steps: [{ allocate: 'c1' }, { allocate: 'c2' }] },
      want: [p2p(['fe80::/128'], ['fe80::1/128']), p2p(['fe80::2/128'], ['fe80::3/128'])],
    },
    {
      name: 'a /32 can never hold a pair',
      input: { cidrs: ['10.0.0.1/32'], steps: [{ allocate: 'c1' }] },
      want: ['<RESOURCE_EXHAUSTED>'],
    },
    {
      name: 'addresses inside excluded prefixes are never given',
      input: {
        cidrs: ['192.168.1.0/24'],
        steps: [1, 2, 3].map((i) => ({
          allocate: `c${i}`,
          ctx: { excludedPrefixes: ['192.168.1.1/32', '192.168.1.3/32', '192.168.1.6/32'] },
        })),
      },
      want: [
        p2p(['192.168.1.0/32'], ['192.168.1.2/32']),
        p2p(['192.168.1.4/32'], ['192.168.1.5/32']),
        p2p(['192.168.1.7/32'], ['192.168.1.8/32']),
      ],
    },
    {
      name: 'IPv6 exclusions',
      input: {
        cidrs: ['fe80::1:0/112'],
        steps: [
          { allocate: 'c1', ctx: { excludedPrefixes: ['fe80::1:1/128', 'fe80::1:3/128', 'fe80::1:0/128'] } },
        ],
      },
      want: [p2p(['fe80::1:2/128'], ['fe80::1:4/128'])],
    },
    {
      name: 'an exclusion covering the whole range exhausts it',
      input: {
        cidrs: ['192.168.1.2/31'],
        steps: [{ allocate: 'c1', ctx: { excludedPrefixes: ['192.168.0.0/16'] } }],
      },
      want: ['<RESOURCE_EXHAUSTED>'],
    },
    {
      name: 'a malformed excluded prefix is rejected',
      input: {
        cidrs: ['192.168.1.0/24'],
        steps: [{ allocate: 'c1', ctx: { excludedPrefixes: ['192.168.1.0/40'] } }],
      },
      want: ['<INVALID_ARGUMENT>'],
    },
    {
      name: 'refresh keeps the pair, even when the request lost its addresses',
      input: {
        cidrs: ['192.168.3.4/16'],
        steps: [
          { allocate: 'c1', ctx: { excludedPrefixes: ['192.168.0.1/32'] } },
          { reuse: 'c1' },
          { allocate: 'c1' },
        ],
      },
      want: [
        p2p(['192.168.0.0/32'], ['192.168.0.2/32']),
        p2p(['192.168.0.0/32'], ['192.168.0.2/32']),
        p2p(['192.168.0.0/32'], ['192.168.0.2/32']),
      ],
    },
    {
      name: 'refresh with a new exclusion over the held pair moves it and drops the old addresses',
      input: {
        cidrs: ['192.168.3.4/16'],
        steps: [
          { allocate: 'c1' },
          { reuse: 'c1', ctx: { excludedPrefixes: ['192.168.0.1/30'] } },
          { allocate: 'c2' },
        ],
      },
      want: [
        p2p(['192.168.0.0/32'], ['192.168.0.1/32']),
        p2p(['192.168.0.4/32'], ['192.168.0.5/32']),
        p2p(['192.168.0.0/32'], ['192.168.0.1/32']),
      ],
    },
    {
      name: 'recovers the addresses a client carries after an endpoint restart',
      input: {
        cidrs: ['192.168.3.4/16'],
        steps: [
          { allocate: 'c1', ctx: { dstIpAddrs: ['192.168.10.0/32'], srcIpAddrs: ['192.168.10.1/32'] } },
          { allocate: 'c2' },
        ],
      },
      want: [p2p(['192.168.10.0/32'], ['192.168.10.1/32']), p2p(['192.168.0.0/32'], ['192.168.0.1/32'])],
    },
    {
      name: 'recovery of addresses held by another connection allocates new ones and drops the stale ones',
      input: {
        cidrs: ['192.168.3.4/16'],
        steps: [
          { allocate: 'c1', ctx: { dstIpAddrs: ['192.168.10.0/32'], srcIpAddrs: ['192.168.10.1/32'] } },
          {
            allocate: 'c2',
            ctx: {
              dstIpAddrs: ['192.168.10.0/32'],
              srcIpAddrs: ['192.168.10.1/32'],
              srcRoutes: [{ prefix: '192.168.10.0/32' }],
              dstRoutes: [{ prefix: '192.168.10.1/32' }],
            },
          },
          { release: 'c1' },
          { allocate: 'c3', ctx: { dstIpAddrs: ['192.168.10.0/32'], srcIpAddrs: ['192.168.10.1/32'] } },
        ],
      },
      want: [
        p2p(['192.168.10.0/32'], ['192.168.10.1/32']),
        p2p(['192.168.0.0/32'], ['192.168.0.1/32']),
        'released',
        p2p(['192.168.10.0/32'], ['192.168.10.1/32']),
      ],
    },
    {
      name: 'recovery skips addresses inside excluded prefixes',
      input: {
        cidrs: ['10.0.0.0/24'],
        steps: [
          {
            allocate: 'c1',
            ctx: {
              dstIpAddrs: ['10.0.0.50/32'],
              srcIpAddrs: ['10.0.0.51/32'],
              excludedPrefixes: ['10.0.0.48/28'],
            },
          },
        ],
      },
      want: [p2p(['10.0.0.0/32'], ['10.0.0.1/32'])],
    },
    {
      name: 'recovery needs both sides',
      input: { cidrs: ['10.0.0.0/24'], steps: [{ allocate: 'c1', ctx: { srcIpAddrs: ['10.0.0.51/32'] } }] },
      want: [p2p(['10.0.0.0/32'], ['10.0.0.1/32'])],
    },
    {
      name: 'addresses and routes from outside the pool are left alone',
      input: {
        cidrs: ['10.0.0.0/24'],
        steps: [
          {
            allocate: 'c1',
            ctx: {
              srcIpAddrs: ['192.168.0.5/24'],
              dstIpAddrs: ['192.168.0.6/24'],
              srcRoutes: [{ prefix: '0.0.0.0/0', nextHop: '' }, { prefix: '10.0.0.0/24' }],
            },
          },
        ],
      },
      want: [
        {
          dst: ['192.168.0.6/24', '10.0.0.0/32'],
          src: ['192.168.0.5/24', '10.0.0.1/32'],
          srcRoutes: ['0.0.0.0/0', '10.0.0.0/24', '10.0.0.0/32'],
          dstRoutes: ['10.0.0.1/32'],
        },
      ],
    },
    {
      name: 'dual stack: one pair per family, in CIDR order',
      input: { cidrs: ['192.168.3.4/16', 'fd00::/8'], steps: [{ allocate: 'c1' }, { allocate: 'c2' }] },
      want: [
        p2p(['192.168.0.0/32', 'fd00::/128'], ['192.168.0.1/32', 'fd00::1/128']),
        p2p(['192.168.0.2/32', 'fd00::2/128'], ['192.168.0.3/32', 'fd00::3/128']),
      ],
    },
    {
      name: 'dual stack refresh with exclusions in both families',
      input: {
        cidrs: ['192.168.3.4/16', 'fe80::/64'],
        steps: [
          { allocate: 'c1', ctx: { excludedPrefixes: ['192.168.0.1/32', 'fe80::1/128'] } },
          { reuse: 'c1' },
          { reuse: 'c1', ctx: { excludedPrefixes: ['192.168.0.1/30', 'fe80::1/126'] } },
        ],
      },
      want: [
        p2p(['192.168.0.0/32', 'fe80::/128'], ['192.168.0.2/32', 'fe80::2/128']),
        p2p(['192.168.0.0/32', 'fe80::/128'], ['192.168.0.2/32', 'fe80::2/128']),
        p2p(['192.168.0.4/32', 'fe80::4/128'], ['192.168.0.5/32', 'fe80::5/128']),
      ],
    },
    {
      name: 'dual stack is all or nothing: an exhausted family takes nothing from the other',
      input: {
        cidrs: ['10.0.0.0/30', 'fd00::/127'],
        steps: [
          { allocate: 'c1' },
          { allocate: 'c2' },
          { release: 'c1' },
          { allocate: 'c3', ctx: { excludedPrefixes: ['10.0.0.0/31'] } },
        ],
      },
      want: [
        p2p(['10.0.0.0/32', 'fd00::/128'], ['10.0.0.1/32', 'fd00::1/128']),
        '<RESOURCE_EXHAUSTED>',
        'released',
        // .2 and .3 were pulled for c2 and must have been given back when its IPv6 pair failed.
        p2p(['10.0.0.2/32', 'fd00::/128'], ['10.0.0.3/32', 'fd00::1/128']),
      ],
    },
    {
      name: 'several CIDRs of one family are tried in order',
      input: {
        cidrs: ['10.0.0.8/31', '10.0.0.0/31'],
        steps: [{ allocate: 'c1' }, { allocate: 'c2' }, { allocate: 'c3' }],
      },
      want: [
        p2p(['10.0.0.8/32'], ['10.0.0.9/32']),
        p2p(['10.0.0.0/32'], ['10.0.0.1/32']),
        '<RESOURCE_EXHAUSTED>',
      ],
    },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      assert.deepEqual(run(new PointToPointAllocator(input.cidrs), input.steps), want);
    });
  }

  it('rejects an empty CIDR list', () => {
    assert.throws(
      () => new PointToPointAllocator([]),
      (e: unknown) => getErrorCode(e) === status.INVALID_ARGUMENT,
    );
  });

  it('rejects a malformed CIDR naming it', () => {
    assert.throws(
      () => new PointToPointAllocator(['10.0.0.0/24', '2001:db8::/200']),
      (e: unknown) =>
        isNsmError(e) && e.code === status.INVALID_ARGUMENT && e.message.includes('"2001:db8::/200"'),
    );
  });

  it('explains exhaustion', () => {
    const alloc = new PointToPointAllocator(['172.16.1.100/31']);
    alloc.allocate('c1', IPContext.create());
    assert.throws(
      () => alloc.allocate('c2', IPContext.fromPartial({ excludedPrefixes: ['10.0.0.0/8'] })),
      (e: unknown) =>
        getErrorCode(e) === status.RESOURCE_EXHAUSTED &&
        /connection "c2": fewer than 2 free IPv4 addresses left in \[172\.16\.1\.100\/31\] outside the excluded/.test(
          (e as Error).message,
        ),
    );
  });

  it('reports how each pair was obtained and whether the connection is new', () => {
    const alloc = new PointToPointAllocator(['10.0.0.0/24', 'fd00::/64']);
    const first = alloc.allocate(
      'c1',
      IPContext.fromPartial({ srcIpAddrs: ['10.0.0.9/32'], dstIpAddrs: ['10.0.0.8/32'] }),
    );
    assert.deepEqual(first, {
      fresh: true,
      pairs: [
        { family: 4, dst: '10.0.0.8/32', src: '10.0.0.9/32', origin: 'recovered' },
        { family: 6, dst: 'fd00::/128', src: 'fd00::1/128', origin: 'allocated' },
      ],
    });
    const again = alloc.allocate('c1', IPContext.create());
    assert.equal(again.fresh, false);
    assert.deepEqual(
      again.pairs.map((p) => p.origin),
      ['kept', 'kept'],
    );
    assert.deepEqual(
      alloc.get('c1')?.map((p) => p.dst),
      ['10.0.0.8/32', 'fd00::/128'],
    );
    alloc.release('c1');
    assert.equal(alloc.get('c1'), undefined);
    assert.equal(alloc.size, 0);
  });

  it('leaves the IPContext untouched when it fails', () => {
    const alloc = new PointToPointAllocator(['10.0.0.0/31', 'fd00::/128']);
    const ctx = IPContext.fromPartial({ srcIpAddrs: ['10.0.0.1/32'] });
    assert.throws(() => alloc.allocate('c1', ctx));
    assert.deepEqual(ctx, IPContext.fromPartial({ srcIpAddrs: ['10.0.0.1/32'] }));
    assert.equal(alloc.size, 0);
  });

  it('keeps the nextHop of an existing route to the granted address', () => {
    const alloc = new PointToPointAllocator(['10.0.0.0/24']);
    const ctx = IPContext.fromPartial({
      srcIpAddrs: ['10.0.0.1/32'],
      dstIpAddrs: ['10.0.0.0/32'],
      srcRoutes: [{ prefix: '10.0.0.0/32', nextHop: '10.0.0.0' }],
    });
    alloc.allocate('c1', ctx);
    assert.deepEqual(ctx.srcRoutes, [{ prefix: '10.0.0.0/32', nextHop: '10.0.0.0' }]);
    assert.deepEqual(ctx.dstRoutes, [{ prefix: '10.0.0.1/32', nextHop: '' }]);
  });
});
