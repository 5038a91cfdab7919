import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../../errors/index.js';
import { mergePrefixes, overlaps, parsePrefixesFile } from './common.js';

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
});
