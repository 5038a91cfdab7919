import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { getErrorCode, isNsmError } from '../../errors/index.js';
import { IpPool, type PullOptions } from './ip-pool.js';

type Op =
  | ['pull', PullOptions?]
  | ['pullSpecific', string, PullOptions?]
  | ['release', string]
  | ['isFree', string, PullOptions?]
  | ['contains', string];

/** Runs ops against a pool; each op yields its result, or "<STATUS NAME>" when it throws. */
function run(pool: IpPool, ops: Op[]): Array<string | boolean> {
  return ops.map((op) => {
    try {
      switch (op[0]) {
        case 'pull':
          return pool.pull(op[1]);
        case 'pullSpecific':
          return pool.pullSpecific(op[1], op[2]);
        case 'release':
          return pool.release(op[1]);
        case 'isFree':
          return pool.isFree(op[1], op[2]);
        default:
          return pool.contains(op[1]);
      }
    } catch (e) {
      return `<${status[getErrorCode(e)]}>`;
    }
  });
}

const pulls = (n: number, opts?: PullOptions): Op[] => Array.from({ length: n }, () => ['pull', opts] as Op);

describe('IpPool', () => {
  const cases: Array<{
    name: string;
    input: { cidrs: string[]; exclude?: string[]; ops: Op[] };
    want: Array<string | boolean>;
  }> = [
    {
      name: 'pulls the lowest addresses in order, including the network address',
      input: { cidrs: ['192.168.3.4/16'], ops: pulls(3) },
      want: ['192.168.0.0', '192.168.0.1', '192.168.0.2'],
    },
    {
      name: '/31 gives two addresses then is exhausted',
      input: { cidrs: ['172.16.1.100/31'], ops: pulls(3) },
      want: ['172.16.1.100', '172.16.1.101', '<RESOURCE_EXHAUSTED>'],
    },
    {
      name: '/32 gives one address',
      input: { cidrs: ['10.0.0.7/32'], ops: pulls(2) },
      want: ['10.0.0.7', '<RESOURCE_EXHAUSTED>'],
    },
    {
      name: 'IPv6 /64 without enumerating it',
      input: {
        cidrs: ['fe80::/64'],
        ops: [...pulls(2), ['pullSpecific', 'fe80::ffff:ffff:ffff:ffff'], ['pull']],
      },
      want: ['fe80::', 'fe80::1', 'fe80::ffff:ffff:ffff:ffff', 'fe80::2'],
    },
    {
      name: 'IPv6 /128 and /127',
      input: { cidrs: ['fd00::5/128', 'fe80::1:2/127'], ops: pulls(4) },
      want: ['fd00::5', 'fe80::1:2', 'fe80::1:3', '<RESOURCE_EXHAUSTED>'],
    },
    {
      name: 'a released address is the next one pulled',
      input: { cidrs: ['10.0.0.0/29'], ops: [...pulls(3), ['release', '10.0.0.1'], ['pull'], ['pull']] },
      want: ['10.0.0.0', '10.0.0.1', '10.0.0.2', true, '10.0.0.1', '10.0.0.3'],
    },
    {
      name: 'release accepts a host prefix and ignores free or foreign addresses',
      input: {
        cidrs: ['10.0.0.0/30'],
        ops: [
          ['pull'],
          ['release', '10.0.0.0/32'],
          ['release', '10.0.0.0'],
          ['release', '10.9.9.9'],
          ['pull'],
        ],
      },
      want: ['10.0.0.0', true, false, false, '10.0.0.0'],
    },
    {
      name: 'permanent exclusions are skipped and never released back',
      input: {
        cidrs: ['10.0.0.0/29'],
        exclude: ['10.0.0.0/31', '10.0.0.4'],
        ops: [...pulls(3), ['release', '10.0.0.4'], ['contains', '10.0.0.4'], ['contains', '10.0.0.5']],
      },
      want: ['10.0.0.2', '10.0.0.3', '10.0.0.5', false, false, true],
    },
    {
      name: 'exclusion covering the whole range',
      input: { cidrs: ['10.0.0.0/30'], exclude: ['10.0.0.0/8'], ops: pulls(1) },
      want: ['<RESOURCE_EXHAUSTED>'],
    },
    {
      name: 'exclusion overlapping the start of the range',
      input: { cidrs: ['10.0.0.4/30'], exclude: ['10.0.0.0/30', '10.0.0.4/31'], ops: pulls(3) },
      want: ['10.0.0.6', '10.0.0.7', '<RESOURCE_EXHAUSTED>'],
    },
    {
      name: 'per-call exclusions are skipped without being consumed',
      input: {
        cidrs: ['192.168.1.0/24'],
        ops: [
          ['pull', { exclude: ['192.168.1.0/31'] }],
          ['pull'],
          ['isFree', '192.168.1.1', { exclude: ['192.168.1.1'] }],
          ['isFree', '192.168.1.1'],
        ],
      },
      want: ['192.168.1.2', '192.168.1.0', false, true],
    },
    {
      name: 'CIDRs are tried in the order given',
      input: { cidrs: ['10.0.0.8/31', '10.0.0.0/31'], ops: pulls(3) },
      want: ['10.0.0.8', '10.0.0.9', '10.0.0.0'],
    },
    {
      name: 'overlapping CIDRs never hand out an address twice',
      input: { cidrs: ['10.0.0.0/31', '10.0.0.0/30'], ops: pulls(5) },
      want: ['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3', '<RESOURCE_EXHAUSTED>'],
    },
    {
      name: 'mixed families: any family in CIDR order, or the one asked for',
      input: {
        cidrs: ['fd00::/127', '10.0.0.0/31'],
        ops: [['pull'], ['pull', { family: 4 }], ['pull', { family: 6 }]],
      },
      want: ['fd00::', '10.0.0.0', 'fd00::1'],
    },
    {
      name: 'family with no CIDR is exhausted',
      input: { cidrs: ['10.0.0.0/24'], ops: [['pull', { family: 6 }]] },
      want: ['<RESOURCE_EXHAUSTED>'],
    },
    {
      name: 'pullSpecific errors say why',
      input: {
        cidrs: ['10.0.0.0/30'],
        ops: [
          ['pullSpecific', '10.0.0.2/32'],
          ['pullSpecific', '10.0.0.2'],
          ['pullSpecific', '10.0.1.1'],
          ['pullSpecific', '10.0.0.3', { exclude: ['10.0.0.3/32'] }],
          ['pullSpecific', 'bogus'],
        ],
      },
      want: [
        '10.0.0.2',
        '<ALREADY_EXISTS>',
        '<INVALID_ARGUMENT>',
        '<FAILED_PRECONDITION>',
        '<INVALID_ARGUMENT>',
      ],
    },
    {
      name: 'isFree and contains',
      input: {
        cidrs: ['10.0.0.0/30'],
        ops: [
          ['pull'],
          ['isFree', '10.0.0.0'],
          ['isFree', '10.0.0.1'],
          ['contains', '10.0.0.0'],
          ['contains', '10.0.0.4'],
        ],
      },
      want: ['10.0.0.0', false, true, true, false],
    },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      const pool = new IpPool(input.cidrs);
      if (input.exclude) pool.exclude(input.exclude);
      assert.deepEqual(run(pool, input.ops), want);
    });
  }

  it('rejects a malformed CIDR naming it', () => {
    assert.throws(
      () => new IpPool(['10.0.0.0/24', '10.0.0/24']),
      (e: unknown) =>
        isNsmError(e) && e.code === status.INVALID_ARGUMENT && e.message.includes('"10.0.0/24"'),
    );
  });

  it('rejects a malformed exclusion naming it', () => {
    const pool = new IpPool(['10.0.0.0/24']);
    assert.throws(
      () => pool.exclude(['10.0.0.300/32']),
      (e: unknown) => isNsmError(e) && e.code === status.INVALID_ARGUMENT && e.message.includes('10.0.0.300'),
    );
  });

  it('says which pool is exhausted', () => {
    const pool = new IpPool(['10.0.0.0/32']);
    pool.pull();
    assert.throws(
      () => pool.pull({ exclude: ['10.0.0.0/8'] }),
      /pool \[10\.0\.0\.0\/32\]: no free address left outside/,
    );
  });

  it('counts free addresses of a huge IPv6 range', () => {
    const pool = new IpPool(['fd00::/8', '10.0.0.0/24']);
    pool.pull({ family: 6 });
    assert.equal(pool.freeCount(6), (1n << 120n) - 1n);
    assert.equal(pool.freeCount(4), 256n);
    assert.equal(pool.freeCount(), (1n << 120n) + 255n);
  });

  it('stays fast with many allocations and releases', () => {
    const pool = new IpPool(['10.0.0.0/16']);
    const got = Array.from({ length: 5000 }, () => pool.pull());
    for (let i = 0; i < got.length; i += 2) pool.release(got[i]!);
    assert.equal(pool.pull(), '10.0.0.0');
    assert.equal(pool.pull(), '10.0.0.2');
    assert.equal(pool.freeCount(), 65536n - 5000n + 2500n - 2n);
  });
});
