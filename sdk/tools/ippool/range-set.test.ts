import assert from 'node:assert/strict';
import { RangeSet } from './range-set.js';

type Op = ['add' | 'remove', bigint, bigint];

function build(ops: Op[]): RangeSet {
  const set = new RangeSet();
  for (const [op, first, last] of ops) set[op](first, last);
  return set;
}

describe('RangeSet', () => {
  const shapes: Array<{ name: string; input: Op[]; want: Array<[bigint, bigint]> }> = [
    { name: 'empty', input: [], want: [] },
    { name: 'one interval', input: [['add', 5n, 9n]], want: [[5n, 9n]] },
    { name: 'ignores inverted ranges', input: [['add', 9n, 5n]], want: [] },
    {
      name: 'keeps disjoint intervals sorted',
      input: [
        ['add', 20n, 29n],
        ['add', 0n, 3n],
      ],
      want: [
        [0n, 3n],
        [20n, 29n],
      ],
    },
    {
      name: 'merges adjacent intervals',
      input: [
        ['add', 0n, 3n],
        ['add', 4n, 7n],
      ],
      want: [[0n, 7n]],
    },
    {
      name: 'merges an interval bridging several',
      input: [
        ['add', 0n, 1n],
        ['add', 5n, 6n],
        ['add', 10n, 11n],
        ['add', 2n, 9n],
      ],
      want: [[0n, 11n]],
    },
    {
      name: 'splits on remove',
      input: [
        ['add', 0n, 10n],
        ['remove', 3n, 4n],
      ],
      want: [
        [0n, 2n],
        [5n, 10n],
      ],
    },
    {
      name: 'removes across intervals',
      input: [
        ['add', 0n, 3n],
        ['add', 6n, 9n],
        ['add', 12n, 15n],
        ['remove', 2n, 13n],
      ],
      want: [
        [0n, 1n],
        [14n, 15n],
      ],
    },
    {
      name: 'removes everything',
      input: [
        ['add', 0n, 3n],
        ['remove', 0n, 3n],
      ],
      want: [],
    },
    {
      name: 'handles 128-bit values',
      input: [
        ['add', 0n, (1n << 128n) - 1n],
        ['remove', 1n, 1n << 127n],
      ],
      want: [
        [0n, 0n],
        [(1n << 127n) + 1n, (1n << 128n) - 1n],
      ],
    },
  ];
  for (const { name, input, want } of shapes) {
    it(`ranges: ${name}`, () => {
      assert.deepEqual(build(input).ranges(), want);
    });
  }

  const lowest: Array<{
    name: string;
    input: { set: Op[]; first: bigint; last: bigint; skip?: Op[] };
    want: bigint | undefined;
  }> = [
    { name: 'empty set', input: { set: [], first: 0n, last: 10n }, want: undefined },
    { name: 'first value', input: { set: [['add', 3n, 9n]], first: 0n, last: 10n }, want: 3n },
    { name: 'bounded below', input: { set: [['add', 3n, 9n]], first: 5n, last: 10n }, want: 5n },
    { name: 'bounded above', input: { set: [['add', 3n, 9n]], first: 0n, last: 2n }, want: undefined },
    {
      name: 'skips excluded values',
      input: { set: [['add', 0n, 9n]], first: 0n, last: 9n, skip: [['add', 0n, 4n]] },
      want: 5n,
    },
    {
      name: 'skips into the next interval',
      input: {
        set: [
          ['add', 0n, 3n],
          ['add', 10n, 13n],
        ],
        first: 0n,
        last: 20n,
        skip: [['add', 0n, 11n]],
      },
      want: 12n,
    },
    {
      name: 'everything excluded',
      input: { set: [['add', 0n, 9n]], first: 0n, last: 9n, skip: [['add', 0n, 9n]] },
      want: undefined,
    },
    {
      name: 'exclusion reaching past the bound',
      input: { set: [['add', 0n, 9n]], first: 0n, last: 5n, skip: [['add', 0n, 7n]] },
      want: undefined,
    },
  ];
  for (const { name, input, want } of lowest) {
    it(`lowestIn: ${name}`, () => {
      const skip = input.skip ? build(input.skip) : undefined;
      assert.equal(build(input.set).lowestIn(input.first, input.last, skip), want);
    });
  }

  it('answers has, covers, intersects and size', () => {
    const set = RangeSet.of([0n, 3n], [10n, 19n]);
    assert.equal(set.has(3n), true);
    assert.equal(set.has(4n), false);
    assert.equal(set.covers(10n, 19n), true);
    assert.equal(set.covers(3n, 10n), false);
    assert.equal(set.intersects(4n, 10n), true);
    assert.equal(set.intersects(4n, 9n), false);
    assert.equal(set.size, 14n);
    assert.equal(set.nextOutside(11n), 20n);
    assert.equal(set.nextOutside(5n), 5n);
  });
});
