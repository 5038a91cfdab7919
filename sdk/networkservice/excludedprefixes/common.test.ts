import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../../errors/index.js';
import { mergePrefixes, overlaps, parsePrefixesFile, routePrefixes, subtractPrefixes } from './common.js';

const fileCases: { name: string; input: string; want?: string[]; err?: RegExp }[] = [
  {
    name: 'upstream shape',
    input: 'prefixes:\n- 10.96.0.0/12\n- 10.244.0.0/16\n',
    want: ['10.96.0.0/12', '10.244.0.0/16'],
  },
  {
    name: 'flow list, IPv6, a bare address',
    input: 'prefixes: [fd00::/8, 192.168.1.1]',
    want: ['fd00::/8', '192.168.1.1'],
  },
  { name: 'empty file', input: '', want: [] },
  { name: 'no prefixes key', input: 'other: 1', want: [] },
  { name: 'not a mapping', input: '- 10.0.0.0/8', err: /want a mapping/ },
  { name: 'prefixes not a list', input: 'prefixes: 10.0.0.0/8', err: /must be a list/ },
  { name: 'a bad prefix', input: 'prefixes: [10.0.0.0/8, 10.0.0.0/33]', err: /prefixes\[1\] in f\.yaml/ },
  { name: 'not YAML', input: 'prefixes: [', err: /failed to parse f\.yaml/ },
];

describe('excludedprefixes common', () => {
  describe('parsePrefixesFile', () => {
    for (const c of fileCases) {
      it(c.name, () => {
        if (c.want) return assert.deepEqual(parsePrefixesFile(c.input, 'f.yaml'), c.want);
        assert.throws(
          () => parsePrefixesFile(c.input, 'f.yaml'),
          (e: unknown) => isNsmError(e) && e.code === status.INVALID_ARGUMENT && c.err!.test(e.message),
        );
      });
    }
  });

  it('merges without duplicates, keeping the order', () => {
    assert.deepEqual(mergePrefixes(['a', 'b'], ['b', 'c', 'c']), ['a', 'b', 'c']);
  });

  it('finds overlapping ranges of the same family only', () => {
    assert.deepEqual(
      overlaps(['10.1.2.3/32', '172.16.0.0/16', 'fd00::1/128'], ['10.0.0.0/8', '::/0', '172.17.0.0/16']),
      [
        { got: '10.1.2.3/32', excluded: '10.0.0.0/8' },
        { got: 'fd00::1/128', excluded: '::/0' },
      ],
    );
  });

  describe('subtractPrefixes', () => {
    const cases: { name: string; input: [string, string[]]; want: string[] }[] = [
      { name: 'nothing excluded', input: ['172.16.0.0/16', []], want: ['172.16.0.0/16'] },
      { name: 'disjoint', input: ['172.16.0.0/16', ['10.96.0.0/12', 'fd00::/8']], want: ['172.16.0.0/16'] },
      { name: 'all of it', input: ['172.16.3.0/24', ['172.16.0.0/16']], want: [] },
      {
        name: 'a /24 cut out of a /22',
        input: ['172.16.0.0/22', ['172.16.2.0/24']],
        want: ['172.16.0.0/23', '172.16.3.0/24'],
      },
      {
        name: 'a host cut out of a /30',
        input: ['10.0.0.0/30', ['10.0.0.1']],
        want: ['10.0.0.0/32', '10.0.0.2/31'],
      },
      { name: 'IPv6', input: ['fd00::/126', ['fd00::3/128']], want: ['fd00::/127', 'fd00::2/128'] },
      { name: 'host bits set in the prefix', input: ['10.0.0.7/30', ['10.0.0.4/31']], want: ['10.0.0.6/31'] },
    ];
    for (const c of cases) {
      it(c.name, () => assert.deepEqual(subtractPrefixes(...c.input), c.want));
    }

    it('covers exactly the addresses that are not excluded (exhaustive on a /24)', () => {
      const excluded = ['10.1.0.3/32', '10.1.0.64/27', '10.1.0.250/31', '9.0.0.0/8'];
      const pieces = subtractPrefixes('10.1.0.0/24', excluded);
      for (let host = 0; host < 256; host++) {
        const addr = `10.1.0.${host}/32`;
        const inPiece = overlaps([addr], pieces).length > 0;
        const inExcluded = overlaps([addr], excluded).length > 0;
        assert.equal(inPiece, !inExcluded, addr);
      }
    });
  });

  it('routePrefixes lists both sides and leaves default routes out', () => {
    const ip = {
      srcRoutes: [
        { prefix: '172.16.0.0/16', nextHop: '' },
        { prefix: '0.0.0.0/0', nextHop: '' },
      ],
      dstRoutes: [{ prefix: '10.0.0.1/32', nextHop: '' }],
    } as Parameters<typeof routePrefixes>[0];
    assert.deepEqual(routePrefixes(ip), ['172.16.0.0/16', '10.0.0.1/32']);
  });
});
